"""SNMPv3 for the simulated devices: each device is an authoritative USM engine (RFC 3414 3.2, 4).

Owns the agent's side of USM: every device has its own snmpEngineID (derived
from its id, so the same city has the same engines on every start), its
engineBoots (one more after each simulated reboot) and engineTime (seconds
since that boot). A request is checked in the order of RFC 3414 3.2 and
answered with the Report a real agent sends (usmStatsUnknownEngineIDs for
discovery, unknownUserNames, unsupportedSecLevels, wrongDigests,
notInTimeWindows, decryptionErrors), else handed to the agent's PDU logic
and the response encrypted and signed at the request's security level.

Users are configured for the whole city (every device knows them), as
``UsmUser`` with passphrases; keys are localized per device engine once.
A user configured with privacy answers requests of a lower level with
authorizationError, as net-snmp's ``rouser USER priv`` does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from collectors.snmp.codec import (
    ErrorStatus,
    Pdu,
    PduType,
    SnmpDecodeError,
    encode_oid,
    encode_pdu,
    encode_sequence,
    encode_varbind,
)
from collectors.snmp.codec_v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    INT31_MAX,
    MAX_MESSAGE_SIZE,
    REPORT_KIND_OIDS,
    V3Message,
    decode_scoped_pdu,
    decode_v3_message,
    encode_scoped_pdu,
)
from collectors.snmp.types import Counter32
from collectors.snmp.usm import TIME_WINDOW, DecryptionError, LocalizedKeys, SaltCounter, UsmUser
from simulators.behaviour import DeviceRuntime

NET_SNMP_ENTERPRISE: Final = 8072
# RFC 3411 SnmpEngineID: enterprise number with the top bit set, format 5 (octets), then 8 octets of the id's hash
_ENGINE_PREFIX: Final = (0x80000000 | NET_SNMP_ENTERPRISE).to_bytes(4, "big") + b"\x05"
_NO_KEYS: Final = LocalizedKeys("none", "none", b"", b"")  # what unauthenticated Reports are sealed with
V3_OVERHEAD: Final = 200  # header, USM parameters (engine ID, digest <= 48, salt), scopedPDU, DES padding

# answer(device, pdu, varbind octet limit) -> (error-status, error-index, encoded varbinds), or None to drop
Answer = Callable[[DeviceRuntime, Pdu, int], tuple[int, int, list[bytes]] | None]


def engine_id_for(device_id: str) -> bytes:
    return _ENGINE_PREFIX + hashlib.blake2b(device_id.encode(), digest_size=8).digest()


@dataclass(slots=True)
class V3Stats:
    reports: dict[str, int] = field(default_factory=dict)  # Reports sent, by kind (the usmStats counters)
    responses: int = 0


class V3Engines:
    """The USM engines of every simulated device, and the users they know."""

    def __init__(self, users: Iterable[UsmUser], max_message_size: int) -> None:
        self.users = {user.name: user for user in users}
        self.max_message_size = max_message_size
        self.stats = V3Stats()
        self._engine_ids: dict[str, bytes] = {}
        self._keys: dict[tuple[bytes, bytes], LocalizedKeys] = {}
        self._salt = SaltCounter()

    def engine_id(self, device: DeviceRuntime) -> bytes:
        engine_id = self._engine_ids.get(device.spec.id)
        if engine_id is None:
            engine_id = self._engine_ids[device.spec.id] = engine_id_for(device.spec.id)
        return engine_id

    def _localized(self, user: UsmUser, engine_id: bytes) -> LocalizedKeys:
        keys = self._keys.get((user.name, engine_id))
        if keys is None:
            keys = self._keys[(user.name, engine_id)] = LocalizedKeys.for_engine(user, engine_id)
        return keys

    @staticmethod
    def clock(device: DeviceRuntime, now: float) -> tuple[int, int]:
        """(engineBoots, engineTime) of the device's engine now."""
        return device.boots, max(0, min(INT31_MAX, int(now - device.boot_time)))

    def respond(self, device: DeviceRuntime, data: bytes, now: float, answer: Answer) -> bytes | None:
        """The answer to one SNMPv3 datagram, or None to drop it; raises SnmpDecodeError if it is malformed."""
        message = decode_v3_message(data)
        engine_id = self.engine_id(device)
        boots, engine_time = self.clock(device, now)
        if message.engine_id != engine_id:  # discovery (empty) or another engine's: RFC 3414 3.2 step 3
            return self._report(message, "unknownEngineID", engine_id, boots, engine_time)
        user = self.users.get(message.user_name)
        if user is None:
            return self._report(message, "unknownUserName", engine_id, boots, engine_time)
        level = message.flags & (FLAG_AUTH | FLAG_PRIV)
        if level & ~user.flags:  # asks for a protocol the user does not have (step 5)
            return self._report(message, "unsupportedSecLevel", engine_id, boots, engine_time)
        keys = self._localized(user, engine_id)
        if level & FLAG_AUTH:
            if not keys.verifies(message, data):
                return self._report(message, "wrongDigest", engine_id, boots, engine_time)
            if message.engine_boots != boots or abs(message.engine_time - engine_time) > TIME_WINDOW:
                return self._report(message, "notInTimeWindow", engine_id, boots, engine_time, keys)
        if level & FLAG_PRIV:
            try:
                scoped = keys.open_encrypted(message)
            except DecryptionError:
                return self._report(message, "decryptionError", engine_id, boots, engine_time)
        else:
            scoped = decode_scoped_pdu(message.data)
        pdu = scoped.pdu
        if pdu.type not in (PduType.GET, PduType.GET_NEXT, PduType.GET_BULK, PduType.SET):
            return None
        if scoped.context_engine_id not in (engine_id, b"") or scoped.context_name:
            return self._report(message, "unknownContext", engine_id, boots, engine_time)
        limit = min(self.max_message_size, message.max_size) - V3_OVERHEAD - len(user.name)
        if level != user.flags:  # below the user's level: what VACM says to "rouser USER priv"
            status, index = ErrorStatus.AUTHORIZATION_ERROR, 0
            varbinds = [encode_varbind(encode_oid(oid), None) for oid, _ in pdu.varbinds]
        else:
            answered = answer(device, pdu, limit)
            if answered is None:
                return None
            status, index, varbinds = answered
        response = encode_pdu(PduType.RESPONSE, pdu.request_id, status, index, encode_sequence(varbinds))
        self.stats.responses += 1
        return self._seal(message.msg_id, level, engine_id, boots, engine_time, user.name, keys, response)

    def _seal(
        self,
        msg_id: int,
        level: int,
        engine_id: bytes,
        boots: int,
        engine_time: int,
        user_name: bytes,
        keys: LocalizedKeys,
        pdu_tlv: bytes,
    ) -> bytes:
        scoped = encode_scoped_pdu(engine_id, b"", pdu_tlv)
        return keys.seal(level, msg_id, MAX_MESSAGE_SIZE, engine_id, boots, engine_time, user_name, scoped, self._salt)

    def _report(
        self,
        message: V3Message,
        kind: str,
        engine_id: bytes,
        boots: int,
        engine_time: int,
        keys: LocalizedKeys | None = None,
    ) -> bytes | None:
        """A Report (RFC 3412 7.1 step 3): noAuthNoPriv, but notInTimeWindow signed (authNoPriv)."""
        count = self.stats.reports.get(kind, 0) + 1
        self.stats.reports[kind] = count
        if not message.reportable:
            return None
        request_id = 0
        if not message.private:  # the request's request-id, where it can be read
            try:
                request_id = decode_scoped_pdu(message.data).pdu.request_id
            except SnmpDecodeError:
                request_id = 0
        varbinds = encode_sequence([encode_varbind(encode_oid(REPORT_KIND_OIDS[kind]), Counter32(count))])
        report = encode_pdu(PduType.REPORT, request_id, 0, 0, varbinds)
        if keys is None:  # unauthenticated: no user, no keys
            return self._seal(message.msg_id, 0, engine_id, boots, engine_time, b"", _NO_KEYS, report)
        return self._seal(message.msg_id, FLAG_AUTH, engine_id, boots, engine_time, message.user_name, keys, report)
