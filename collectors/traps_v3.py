"""SNMPv3 traps and informs (USM): pysnmp authenticates and decrypts, on the trap receiver's own socket.

Owns the SNMPv3 part of the trap port. The fast codec of :mod:`collectors.traps`
speaks v1/v2c only; a datagram whose version field says 3 is handed here, to a
pysnmp engine that has no socket of its own: a small bridge transport feeds it
the datagram and sends its answers (the Report of engine-ID discovery, the
Response to an inform) through the receiver's socket. So one port takes every
version, as snmptrapd does.

USM users come from the configuration. A trap is sent with the *sender's*
engine ID as the authoritative one, so a user who sends traps needs that
engine ID configured (``engine_id``, as ``createUser -e`` for snmptrapd);
informs discover the receiver's engine ID and need none. Authentication and
decryption failures are read off the USM statistics (usmStatsWrongDigests,
usmStatsUnknownUserNames, usmStatsDecryptionErrors, usmStatsUnsupportedSecLevels,
usmStatsNotInTimeWindows) and reported to the caller as refused.

Needs the ``cryptography`` package for DES/AES privacy (pysnmp imports it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.carrier.base import AbstractTransport, AbstractTransportDispatcher
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto import rfc1902

from collectors.snmp.types import VarBind
from stadtnetz.model import V3User

AUTH_PROTOCOLS = {
    "none": config.USM_AUTH_NONE,
    "md5": config.USM_AUTH_HMAC96_MD5,
    "sha": config.USM_AUTH_HMAC96_SHA,
    "sha224": config.USM_AUTH_HMAC128_SHA224,
    "sha256": config.USM_AUTH_HMAC192_SHA256,
    "sha384": config.USM_AUTH_HMAC256_SHA384,
    "sha512": config.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {
    "none": config.USM_PRIV_NONE,
    "des": config.USM_PRIV_CBC56_DES,
    "aes": config.USM_PRIV_CFB128_AES,
    # net-snmp's names: AES192/AES256 extend the key as Blumenthal's draft says, AES192C/AES256C as Reeder's
    "aes192": config.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "aes256": config.USM_PRIV_CFB256_AES_BLUMENTHAL,
    "aes192c": config.USM_PRIV_CFB192_AES,
    "aes256c": config.USM_PRIV_CFB256_AES,
}
_USM_FAILURES = (
    "usmStatsWrongDigests",
    "usmStatsUnknownUserNames",
    "usmStatsDecryptionErrors",
    "usmStatsUnsupportedSecLevels",
    "usmStatsNotInTimeWindows",
)


def is_v3(data: bytes) -> bool:
    """Does the datagram start like an SNMPv3 message (SEQUENCE, then INTEGER 3)?"""
    if len(data) < 5 or data[0] != 0x30:
        return False
    position = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    return data[position : position + 3] == b"\x02\x01\x03"


class _Bridge(AbstractTransport):
    """pysnmp's view of the receiver's socket: what pysnmp sends goes out through ``send``."""

    def __init__(self, send: Callable[[bytes, tuple], None]) -> None:
        self.send = send
        self.deliver: Callable[..., None] | None = None

    def is_compatible_with_dispatcher(self, transport_dispatcher: object) -> bool:
        return True

    def register_callback(self, cbFun: Callable[..., None]) -> None:  # noqa: N803 - pysnmp's signature
        self.deliver = cbFun

    def unregister_callback(self) -> None:
        self.deliver = None

    def send_message(self, outgoingMessage: Any, transportAddress: Any) -> None:  # noqa: N803
        self.send(bytes(outgoingMessage), tuple(transportAddress))

    def close_transport(self) -> None:
        pass


def _value(value: Any) -> object:
    """A pysnmp value as the project's codec types give it (enough to classify a trap)."""
    if isinstance(value, univ.ObjectIdentifier):
        return tuple(value)
    if isinstance(value, univ.Integer | rfc1902.Integer32 | rfc1902.Counter32 | rfc1902.Counter64):
        return int(value)
    if isinstance(value, univ.OctetString):
        return bytes(value)
    return value


class V3TrapDecoder:
    """A pysnmp engine without a socket: feed it v3 datagrams, get the notification's varbinds back."""

    def __init__(self, users: Iterable[V3User], send: Callable[[bytes, tuple], None]) -> None:
        self.engine = engine.SnmpEngine()
        dispatcher = AbstractTransportDispatcher()
        self.engine.register_transport_dispatcher(dispatcher)
        self._bridge = _Bridge(send)
        dispatcher.register_transport(udp.DOMAIN_NAME, self._bridge)
        for user in users:
            keys: dict[str, Any] = {
                "authProtocol": AUTH_PROTOCOLS[user.auth_protocol],
                "authKey": user.auth_key.reveal() if user.auth_key else None,
                "privProtocol": PRIV_PROTOCOLS[user.priv_protocol],
                "privKey": user.priv_key.reveal() if user.priv_key else None,
            }
            config.add_v3_user(self.engine, user.name, **keys)  # informs: our own engine ID is authoritative
            if user.engine_id:
                config.add_v3_user(
                    self.engine, user.name, securityEngineId=univ.OctetString(user.engine_id), **keys
                )
        self._received: list[list[VarBind]] = []
        self._receiver = ntfrcv.NotificationReceiver(self.engine, self._notification)
        builder = self.engine.get_mib_builder()
        self._failure_counters = builder.import_symbols("__SNMP-USER-BASED-SM-MIB", *_USM_FAILURES)

    def _notification(
        self,
        snmpEngine: Any,  # noqa: N803 - pysnmp's callback signature
        stateReference: Any,  # noqa: N803
        contextEngineId: Any,  # noqa: N803
        contextName: Any,  # noqa: N803
        varBinds: Any,  # noqa: N803
        cbCtx: Any,  # noqa: N803
    ) -> None:
        varbinds: list[VarBind] = [(tuple(name), _value(value)) for name, value in varBinds]  # type: ignore[misc]
        self._received.append(varbinds)

    def _failures(self) -> int:
        return sum(int(counter.syntax) for counter in self._failure_counters)

    def feed(self, data: bytes, addr: tuple) -> tuple[list[list[VarBind]], bool]:
        """Process one datagram: (the notifications it carried, whether USM refused it).

        A datagram may carry none and still be fine: the engine-ID discovery
        that precedes an inform is answered with a Report and carries nothing.
        """
        before = self._failures()
        self._received.clear()
        if self._bridge.deliver is not None:
            self._bridge.deliver(self._bridge, udp.UdpTransportAddress(addr[:2]), data)
        notifications = list(self._received)
        self._received.clear()
        return notifications, self._failures() > before
