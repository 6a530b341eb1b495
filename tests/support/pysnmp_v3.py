"""pysnmp 7 as the SNMPv3 reference of the v3 codec and USM tests: an agent without a socket, and its primitives.

* :class:`PysnmpAgent`: a real pysnmp engine (message processing, USM, VACM, the Get/GetNext/GetBulk
  command responders and pysnmp's own SNMPv2-MIB) fed datagrams directly through a transport that has
  no socket (the pattern of ``collectors/traps_v3.py``); what it answers comes back as bytes.
* :func:`pysnmp_encode` / :func:`pysnmp_open`: one v3 message built and opened with pysnmp's ASN.1
  model (``SNMPv3Message``, ``UsmSecurityParameters``, ``ScopedPDU``), pyasn1's BER codec and pysnmp's
  authentication and privacy services, with the salt under the caller's control (the services keep
  it in ``local_int``), for byte-for-byte comparisons with our encoder.
* the protocol names of :mod:`collectors.snmp.usm` mapped to pysnmp's OIDs, and one user per
  authentication x privacy combination.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.ber import encoder as ber_encoder
from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.carrier.base import AbstractTransport, AbstractTransportDispatcher
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import api
from pysnmp.proto.mpmod.rfc3412 import ScopedPDU as PysnmpScopedPDU
from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
from pysnmp.proto.secmod.rfc3414.service import SnmpUSMSecurityModel, UsmSecurityParameters

from collectors.snmp.usm import AUTH_PROTOCOLS, PRIV_PROTOCOLS, UsmUser
from collectors.traps_v3 import AUTH_PROTOCOLS as TRAP_AUTH_PROTOCOLS
from collectors.traps_v3 import PRIV_PROTOCOLS as TRAP_PRIV_PROTOCOLS

# pysnmp's services by our protocol names: the mapping the trap receiver uses (aes192/aes256 Blumenthal, net-snmp's
# AES192/AES256; aes192c/aes256c Reeder, what pysnmp calls "non-standard but used by many vendors")
PYSNMP_AUTH = TRAP_AUTH_PROTOCOLS
PYSNMP_PRIV = TRAP_PRIV_PROTOCOLS
assert set(PYSNMP_AUTH) == set(AUTH_PROTOCOLS) and set(PYSNMP_PRIV) == set(PRIV_PROTOCOLS)

# every security level and protocol pair SNMPv3 has: noAuthNoPriv, then auth x (none + the privacy protocols)
COMBINATIONS: list[tuple[str, str]] = [("none", "none")] + [
    (auth, priv) for auth in AUTH_PROTOCOLS if auth != "none" for priv in PRIV_PROTOCOLS
]
AUTH_PASSPHRASE = b"authpass-4711"
PRIV_PASSPHRASE = b"privpass-0815"
AGENT_ENGINE = bytes.fromhex("80001f8880e9630000d61ff449")  # net-snmp style: enterprise 8072, random
P2 = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
USM = SnmpUSMSecurityModel


def user_for(auth: str, priv: str, name: bytes | None = None, auth_key: bytes = AUTH_PASSPHRASE,
             priv_key: bytes = PRIV_PASSPHRASE) -> UsmUser:  # fmt: skip
    """Our user for one combination, named ``auth-priv`` unless told otherwise."""
    return UsmUser(
        name or f"{auth}-{priv}".encode(),
        auth,
        auth_key if auth != "none" else None,
        priv,
        priv_key if priv != "none" else None,
    )


@cache
def _master_key(service_kind: str, protocol: str, auth: str, passphrase: bytes) -> univ.OctetString:
    if service_kind == "auth":
        return USM.AUTH_SERVICES[PYSNMP_AUTH[auth]].hash_passphrase(passphrase)
    return USM.PRIV_SERVICES[PYSNMP_PRIV[protocol]].hash_passphrase(PYSNMP_AUTH[auth], passphrase)


@cache
def _localized(auth: str, priv: str, auth_key: bytes | None, priv_key: bytes | None, engine_id: bytes) -> tuple:
    engine = univ.OctetString(engine_id)
    localized_auth = localized_priv = None
    if auth != "none":
        service = USM.AUTH_SERVICES[PYSNMP_AUTH[auth]]
        localized_auth = service.localize_key(_master_key("auth", auth, auth, auth_key), engine)
    if priv != "none":
        service = USM.PRIV_SERVICES[PYSNMP_PRIV[priv]]
        master = _master_key("priv", priv, auth, priv_key)
        localized_priv = univ.OctetString(service.localize_key(PYSNMP_AUTH[auth], master, engine))
    return localized_auth, localized_priv


def pysnmp_keys(user: UsmUser, engine_id: bytes) -> tuple[univ.OctetString | None, univ.OctetString | None]:
    """The user's keys localized to ``engine_id`` the way pysnmp computes them (for its services)."""
    return _localized(user.auth_protocol, user.priv_protocol, user.auth_key, user.priv_key, engine_id)


def set_pysnmp_salt(priv: str, salt: int) -> None:
    """The next salt pysnmp's ``priv`` service uses (a 32-bit counter for DES, 64-bit for AES)."""
    USM.PRIV_SERVICES[PYSNMP_PRIV[priv]].local_int = salt & (0xFFFFFFFF if priv == "des" else 0xFFFFFFFFFFFFFFFF)


# --------------------------------------------------------------------------- one message


def pysnmp_encode(
    *,
    msg_id: int,
    max_size: int,
    flags: int,
    engine_id: bytes,
    boots: int,
    engine_time: int,
    user: UsmUser,
    context_engine_id: bytes,
    context_name: bytes,
    pdu: Any,
    salt: int = 0,
    user_name: bytes | None = None,
    minimal_padding: bool = False,
) -> bytes:
    """A whole v3 message built the way pysnmp's USM builds one (service.py 3.1), with pysnmp's parts.

    ``user`` says the protocols and passphrases; ``flags`` is what goes on the wire (its auth/priv
    bits decide what is applied). ``pdu`` is a pysnmp PDU object; ``user_name`` overrides the user's name.
    pysnmp pads a DES plaintext that is a multiple of 8 octets with 8 more (ours and net-snmp's add none);
    ``minimal_padding`` drops that block (CBC: the rest of the ciphertext stays what it is).
    """
    scoped = PysnmpScopedPDU()
    scoped.setComponentByPosition(0, context_engine_id)
    scoped.setComponentByPosition(1, context_name)
    scoped.setComponentByPosition(2).getComponentByPosition(2).setComponentByType(pdu.tagSet, pdu)
    msg = SNMPv3Message()
    msg.setComponentByPosition(0, 3)
    header = msg.setComponentByPosition(1).getComponentByPosition(1)
    header.setComponentByPosition(0, msg_id)
    header.setComponentByPosition(1, max_size)
    header.setComponentByPosition(2, bytes((flags,)))
    header.setComponentByPosition(3, 3)
    data = msg.setComponentByPosition(3).getComponentByPosition(3)
    parameters = UsmSecurityParameters()
    auth_key, priv_key = pysnmp_keys(user, engine_id)
    if flags & 0x02:
        set_pysnmp_salt(user.priv_protocol, salt)
        service = USM.PRIV_SERVICES[PYSNMP_PRIV[user.priv_protocol]]
        plaintext = ber_encoder.encode(scoped)
        encrypted, privacy = service.encrypt_data(priv_key, (boots, engine_time, None), plaintext)
        if minimal_padding and user.priv_protocol == "des" and len(plaintext) % 8 == 0:
            encrypted = univ.OctetString(bytes(encrypted)[:-8])
        parameters.setComponentByPosition(5, privacy)
        data.setComponentByPosition(1, encrypted)
    else:
        parameters.setComponentByPosition(5, b"")
        data.setComponentByPosition(0, scoped)
    parameters.setComponentByPosition(0, engine_id)
    parameters.setComponentByPosition(1, boots)
    parameters.setComponentByPosition(2, engine_time)
    parameters.setComponentByPosition(3, user.name if user_name is None else user_name)
    if flags & 0x01:
        auth = USM.AUTH_SERVICES[PYSNMP_AUTH[user.auth_protocol]]
        parameters.setComponentByPosition(4, bytes(auth.digest_length))  # pysnmp's placeholder
        msg.setComponentByPosition(2, ber_encoder.encode(parameters))
        return bytes(auth.authenticate_outgoing_message(auth_key, ber_encoder.encode(msg)))
    parameters.setComponentByPosition(4, b"")
    msg.setComponentByPosition(2, ber_encoder.encode(parameters))
    return bytes(ber_encoder.encode(msg))


@dataclass
class PysnmpOpened:
    """What pysnmp's primitives read from a v3 message: header, USM parameters, the scopedPDU's parts."""

    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    boots: int
    engine_time: int
    user_name: bytes
    context_engine_id: bytes
    context_name: bytes
    pdu: Any
    padding: bytes  # what followed the decrypted scopedPDU


def pysnmp_open(data: bytes, user: UsmUser) -> PysnmpOpened:
    """Decode, verify the digest of and decrypt a v3 message with pysnmp's parts (service.py 3.2's steps)."""
    msg, rest = ber_decoder.decode(data, asn1Spec=SNMPv3Message())
    assert rest == b"", f"pyasn1 left {len(rest)} octets after the message"
    header = msg.getComponentByPosition(1)
    (flags,) = header.getComponentByPosition(2).asNumbers()
    parameters, rest = ber_decoder.decode(msg.getComponentByPosition(2), asn1Spec=UsmSecurityParameters())
    assert rest == b"", "octets after UsmSecurityParameters"
    engine_id = bytes(parameters.getComponentByPosition(0))
    boots, engine_time = int(parameters.getComponentByPosition(1)), int(parameters.getComponentByPosition(2))
    auth_key, priv_key = pysnmp_keys(user, engine_id)
    if flags & 0x01:
        auth = USM.AUTH_SERVICES[PYSNMP_AUTH[user.auth_protocol]]
        # raises StatusInformation(authenticationFailure) on a wrong digest
        auth.authenticate_incoming_message(auth_key, parameters.getComponentByPosition(4), data)
    scoped_data = msg.getComponentByPosition(3)
    padding = b""
    if flags & 0x02:
        assert scoped_data.getName() == "encryptedPDU"
        service = USM.PRIV_SERVICES[PYSNMP_PRIV[user.priv_protocol]]
        plaintext = service.decrypt_data(
            priv_key, (boots, engine_time, parameters.getComponentByPosition(5)), scoped_data.getComponent()
        )
        scoped, padding = ber_decoder.decode(plaintext, asn1Spec=PysnmpScopedPDU())
    else:
        assert scoped_data.getName() == "plaintext"
        scoped = scoped_data.getComponent()
    return PysnmpOpened(
        int(header.getComponentByPosition(0)),
        int(header.getComponentByPosition(1)),
        flags,
        engine_id,
        boots,
        engine_time,
        bytes(parameters.getComponentByPosition(3)),
        bytes(scoped.getComponentByPosition(0)),
        bytes(scoped.getComponentByPosition(1)),
        scoped.getComponentByPosition(2).getComponent(),
        bytes(padding),
    )


# --------------------------------------------------------------------------- an agent


class _Wire(AbstractTransport):
    """pysnmp's transport without a socket: datagrams are handed in, what pysnmp sends is collected."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple]] = []
        self.deliver: Any = None

    def is_compatible_with_dispatcher(self, transport_dispatcher: object) -> bool:
        return True

    def register_callback(self, cbFun: Any) -> None:  # noqa: N803 - pysnmp's signature
        self.deliver = cbFun

    def unregister_callback(self) -> None:
        self.deliver = None

    def send_message(self, outgoingMessage: Any, transportAddress: Any) -> None:  # noqa: N803
        self.sent.append((bytes(outgoingMessage), tuple(transportAddress)))

    def close_transport(self) -> None:
        pass


USM_STATS = (
    "usmStatsUnsupportedSecLevels",
    "usmStatsNotInTimeWindows",
    "usmStatsUnknownUserNames",
    "usmStatsUnknownEngineIDs",
    "usmStatsWrongDigests",
    "usmStatsDecryptionErrors",
)


class PysnmpAgent:
    """A pysnmp command responder with ``users`` (read access to 1.3.6), answering datagrams handed to it."""

    def __init__(self, users: Iterable[UsmUser], engine_id: bytes = AGENT_ENGINE) -> None:
        self.engine_id = engine_id
        self.engine = engine.SnmpEngine(snmpEngineID=univ.OctetString(engine_id))
        dispatcher = AbstractTransportDispatcher()
        self.engine.register_transport_dispatcher(dispatcher)
        self._wire = _Wire()
        dispatcher.register_transport(udp.DOMAIN_NAME, self._wire)
        for user in users:
            config.add_v3_user(
                self.engine,
                user.name.decode(),
                PYSNMP_AUTH[user.auth_protocol],
                user.auth_key,
                PYSNMP_PRIV[user.priv_protocol],
                user.priv_key,
            )
            config.add_vacm_user(self.engine, 3, user.name.decode(), user.security_level, (1, 3, 6), (1, 3, 6))
        snmp_context = context.SnmpContext(self.engine)
        for responder in (cmdrsp.GetCommandResponder, cmdrsp.NextCommandResponder, cmdrsp.BulkCommandResponder):
            responder(self.engine, snmp_context)
        builder = self.engine.get_mib_builder()
        self._stats = dict(zip(USM_STATS, builder.import_symbols("__SNMP-USER-BASED-SM-MIB", *USM_STATS), strict=True))
        (self._boots,) = builder.import_symbols("__SNMP-FRAMEWORK-MIB", "snmpEngineBoots")

    def feed(self, datagram: bytes, source: tuple[str, int] = ("127.0.0.1", 40161)) -> list[bytes]:
        """Hand pysnmp one datagram; return what it sent back (none, a Response or a Report)."""
        self._wire.sent.clear()
        self._wire.deliver(self._wire, udp.UdpTransportAddress(source), datagram)
        answers = [message for message, _ in self._wire.sent]
        self._wire.sent.clear()
        return answers

    def stats(self) -> dict[str, int]:
        """The agent's USM error counters (RFC 3414 usmStats*)."""
        return {name: int(counter.syntax) for name, counter in self._stats.items()}

    @property
    def boots(self) -> int:
        return int(self._boots.syntax)
