"""The manager's side of USM (RFC 3414 3, 4): what our client knows of each agent's engine, and the messages.

Owns, per agent address, the authoritative engine learnt by discovery (its
snmpEngineID, engineBoots and an estimate of engineTime, RFC 3414 2.3), the
keys of each user localized to that engine (computed once, then cached),
building a request (encrypt, then sign) and opening an answer (check the
digest and the time window, then decrypt and decode). The client decides
what to do with Reports; this module only learns from them.

An engine is replaced by what an unknownEngineID Report or a discovery says
(they are unauthenticated by nature, as everywhere in USM), and its time is
moved forward only by authenticated messages that are newer than what we
know (RFC 3414 3.2 step 7b); an authenticated answer from an older boot, or
more than 150 s behind our estimate, is refused as a replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from collectors.snmp.codec import PduType, encode_pdu
from collectors.snmp.codec_v3 import (
    FLAG_REPORTABLE,
    INT31_MAX,
    MAX_MESSAGE_SIZE,
    ScopedPdu,
    V3Message,
    decode_scoped_pdu,
    encode_scoped_pdu,
    encode_v3_message,
)
from collectors.snmp.usm import TIME_WINDOW, DecryptionError, LocalizedKeys, SaltCounter, UsmUser

_EMPTY_VARBINDS: Final = b"\x30\x00"
_KEY_CACHE_LIMIT: Final = 100_000

Address = tuple[str, int]


class Unauthentic(Exception):  # noqa: N818 - a verdict, not an error of ours
    """An answer that fails our checks: wrong digest, outside the time window, or undecryptable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Engine:
    """An agent's authoritative engine as we know it; ``synced_at`` is our monotonic time of ``engine_time``."""

    engine_id: bytes
    boots: int
    engine_time: int
    synced_at: float

    def time_at(self, monotonic: float) -> int:
        return min(INT31_MAX, self.engine_time + int(monotonic - self.synced_at))


class UsmManager:
    """Engines and localized keys of every agent one client talks to."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.engines: dict[Address, Engine] = {}
        self._keys: dict[tuple[UsmUser, bytes], LocalizedKeys] = {}
        self._salt = SaltCounter()

    def keys(self, user: UsmUser, engine_id: bytes) -> LocalizedKeys:
        cached = self._keys.get((user, engine_id))
        if cached is None:
            if len(self._keys) >= _KEY_CACHE_LIMIT:
                self._keys.clear()
            cached = self._keys[(user, engine_id)] = LocalizedKeys.for_engine(user, engine_id)
        return cached

    # ------------------------------------------------------------------ building

    def discovery(self, msg_id: int) -> bytes:
        """The engine-ID discovery probe (RFC 3414 4): noAuthNoPriv, no engine, no user, an empty GET."""
        scoped = encode_scoped_pdu(b"", b"", encode_pdu(PduType.GET, msg_id, 0, 0, _EMPTY_VARBINDS))
        message, _ = encode_v3_message(msg_id, MAX_MESSAGE_SIZE, FLAG_REPORTABLE, b"", 0, 0, b"", 0, b"", scoped)
        return message

    def request(self, address: Address, user: UsmUser, context_name: bytes, msg_id: int, pdu_tlv: bytes) -> bytes:
        """A request to the known engine at ``address``: scopedPDU, encrypted and signed as ``user`` says."""
        engine = self.engines[address]
        scoped = encode_scoped_pdu(engine.engine_id, context_name, pdu_tlv)
        return self.keys(user, engine.engine_id).seal(
            user.flags | FLAG_REPORTABLE, msg_id, MAX_MESSAGE_SIZE, engine.engine_id, engine.boots,
            engine.time_at(self.clock()), user.name, scoped, self._salt,
        )

    # ------------------------------------------------------------------ opening

    def open(self, message: V3Message, raw: bytes, user: UsmUser) -> ScopedPdu:
        """Check and decrypt an answer to ``user``; raise :class:`Unauthentic` or SnmpDecodeError."""
        if message.authenticated:
            if not user.authenticated:
                raise Unauthentic("an authenticated answer to a user without authentication")
            keys = self.keys(user, message.engine_id)
            if not keys.verifies(message, raw):
                raise Unauthentic("wrong digest")
            if message.private:
                if not user.private:
                    raise Unauthentic("an encrypted answer to a user without privacy")
                try:
                    return keys.open_encrypted(message)
                except DecryptionError as exc:
                    raise Unauthentic(f"cannot decrypt: {exc}") from None
        return decode_scoped_pdu(message.data)

    def learn(self, address: Address, message: V3Message) -> None:
        """Take the engine an unauthenticated discovery or unknownEngineID Report names."""
        if message.engine_id:
            self.engines[address] = Engine(message.engine_id, message.engine_boots, message.engine_time, self.clock())

    def check_time(self, address: Address, message: V3Message) -> None:
        """RFC 3414 3.2 step 7b for an authenticated message: refuse replays, move our estimate forward."""
        now = self.clock()
        engine = self.engines.get(address)
        if engine is None or engine.engine_id != message.engine_id:
            self.engines[address] = Engine(message.engine_id, message.engine_boots, message.engine_time, now)
            return
        if message.engine_boots == INT31_MAX:
            raise Unauthentic("engine boots at its maximum")
        if message.engine_boots > engine.boots or (
            message.engine_boots == engine.boots and message.engine_time > engine.time_at(now)
        ):
            engine.boots, engine.engine_time, engine.synced_at = message.engine_boots, message.engine_time, now
            return
        if message.engine_boots < engine.boots or message.engine_time < engine.time_at(now) - TIME_WINDOW:
            raise Unauthentic("outside the time window")
