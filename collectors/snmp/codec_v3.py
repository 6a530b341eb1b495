"""BER wire codec of the SNMPv3 message (RFC 3412 6, RFC 3414 2.4): header, USM parameters, scopedPDU.

Owns the bytes around a PDU in SNMPv3::

    SNMPv3Message ::= SEQUENCE { msgVersion INTEGER (3),
        msgGlobalData SEQUENCE { msgID, msgMaxSize, msgFlags OCTET STRING (SIZE(1)), msgSecurityModel (3 = USM) },
        msgSecurityParameters OCTET STRING (containing UsmSecurityParameters ::= SEQUENCE {
            msgAuthoritativeEngineID, msgAuthoritativeEngineBoots, msgAuthoritativeEngineTime,
            msgUserName, msgAuthenticationParameters, msgPrivacyParameters }),
        msgData CHOICE { plaintext ScopedPDU, encryptedPDU OCTET STRING } }
    ScopedPDU ::= SEQUENCE { contextEngineID, contextName, data PDU }

It computes no digests and encrypts nothing (that is :mod:`collectors.snmp.usm`);
it says where the authentication parameters lie, so a digest can be checked over
the message with them zeroed, and builds messages with room for one.

Strictness is the v1/v2c codec's: anything but a well-formed message raises
:class:`~collectors.snmp.codec.SnmpDecodeError`, lengths stay inside their
containers, integers inside their ranges (msgMaxSize >= 484, engine boots and
time 0..2**31-1, engine IDs and user names at most 32 octets, msgFlags one
octet with privacy only together with authentication, the USM security
model only). A decrypted scopedPDU may be followed by the padding of one DES
block (at most 8 octets: net-snmp pads to the next multiple of 8, pysnmp adds a
whole block when the scopedPDU is one already, RFC 3414 8.1.1.2 allows any
value); a plaintext one may not be followed by anything.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from collectors.snmp.codec import (
    Pdu,
    PduType,
    SnmpDecodeError,
    SnmpEncodeError,
    Version,
    _header,
    _integer,
    decode_pdu,
    encode_integer,
    open_message,
    tlv,
)

FLAG_AUTH: Final = 0x01
FLAG_PRIV: Final = 0x02
FLAG_REPORTABLE: Final = 0x04
USM_SECURITY_MODEL: Final = 3
MAX_ENGINE_ID: Final = 32
MAX_USER_NAME: Final = 32
MIN_MAX_SIZE: Final = 484
MAX_MESSAGE_SIZE: Final = 65507  # the msgMaxSize we send: the largest UDP payload over IPv4
MAX_PADDING: Final = 8  # after a decrypted scopedPDU: one DES block
INT31_MAX: Final = 2**31 - 1
_VERSION_3: Final = b"\x02\x01\x03"
_FLAG_OCTETS: Final = tuple(tlv(0x04, bytes((flags,))) for flags in range(8))
_USM_MODEL: Final = b"\x02\x01\x03"


@dataclass(slots=True)
class V3Message:
    """A decoded SNMPv3 message; ``data`` is the scopedPDU TLV or, with privacy, the ciphertext."""

    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    engine_boots: int
    engine_time: int
    user_name: bytes
    auth_parameters: bytes
    privacy_parameters: bytes
    data: bytes
    auth_offset: int  # where msgAuthenticationParameters' contents start in the whole message

    @property
    def authenticated(self) -> bool:
        return bool(self.flags & FLAG_AUTH)

    @property
    def private(self) -> bool:
        return bool(self.flags & FLAG_PRIV)

    @property
    def reportable(self) -> bool:
        return bool(self.flags & FLAG_REPORTABLE)


@dataclass(slots=True)
class ScopedPdu:
    context_engine_id: bytes
    context_name: bytes
    pdu: Pdu


def is_v3(data: bytes) -> bool:
    """Does the datagram start like an SNMPv3 message (SEQUENCE, then INTEGER 3)?"""
    if len(data) < 5 or data[0] != 0x30:
        return False
    position = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    return data[position : position + 3] == _VERSION_3


def _octets(data: bytes, pos: int, limit: int, what: str, maximum: int | None = None) -> tuple[bytes, int, int]:
    """(contents, contents start, end) of an OCTET STRING."""
    start, end = _header(data, pos, limit, 0x04, what)
    if maximum is not None and end - start > maximum:
        raise SnmpDecodeError(f"{what} of {end - start} octets (at most {maximum})")
    return data[start:end], start, end


def _bounded(data: bytes, pos: int, limit: int, what: str, low: int, high: int) -> tuple[int, int]:
    value, pos = _integer(data, pos, limit, what)
    if not low <= value <= high:
        raise SnmpDecodeError(f"{what} {value} outside {low}..{high}")
    return value, pos


def _decode(data: bytes) -> V3Message:
    data, version, pos, end = open_message(data, "SNMPv3Message")
    if version != Version.V3:
        raise SnmpDecodeError(f"msgVersion {version} is not SNMPv3")
    gstart, gend = _header(data, pos, end, 0x30, "msgGlobalData")
    msg_id, gpos = _bounded(data, gstart, gend, "msgID", 0, INT31_MAX)
    max_size, gpos = _bounded(data, gpos, gend, "msgMaxSize", MIN_MAX_SIZE, INT31_MAX)
    flag_octets, _, gpos = _octets(data, gpos, gend, "msgFlags")
    if len(flag_octets) != 1:
        raise SnmpDecodeError(f"msgFlags of {len(flag_octets)} octets, not 1")
    flags = flag_octets[0]
    if flags & FLAG_PRIV and not flags & FLAG_AUTH:
        raise SnmpDecodeError("msgFlags: privacy without authentication")
    model, gpos = _integer(data, gpos, gend, "msgSecurityModel")
    if model != USM_SECURITY_MODEL:
        raise SnmpDecodeError(f"msgSecurityModel {model} is not USM (3)")
    if gpos != gend:
        raise SnmpDecodeError("octets after msgSecurityModel")
    _, sstart, send = _octets(data, gend, end, "msgSecurityParameters")
    ustart, uend = _header(data, sstart, send, 0x30, "UsmSecurityParameters")
    if uend != send:
        raise SnmpDecodeError("octets after UsmSecurityParameters")
    engine_id, _, upos = _octets(data, ustart, uend, "msgAuthoritativeEngineID", MAX_ENGINE_ID)
    boots, upos = _bounded(data, upos, uend, "msgAuthoritativeEngineBoots", 0, INT31_MAX)
    engine_time, upos = _bounded(data, upos, uend, "msgAuthoritativeEngineTime", 0, INT31_MAX)
    user, _, upos = _octets(data, upos, uend, "msgUserName", MAX_USER_NAME)
    auth, auth_offset, upos = _octets(data, upos, uend, "msgAuthenticationParameters", 64)
    privacy, _, upos = _octets(data, upos, uend, "msgPrivacyParameters", 64)
    if upos != uend:
        raise SnmpDecodeError("octets after msgPrivacyParameters")
    if send >= end:
        raise SnmpDecodeError("Message without msgData")
    if flags & FLAG_PRIV:
        payload, _, pos = _octets(data, send, end, "encryptedPDU")
    else:
        _, pos = _header(data, send, end, 0x30, "ScopedPDU")
        payload = data[send:pos]
    if pos != end:
        raise SnmpDecodeError("octets after msgData")
    if not flags & FLAG_AUTH and (auth or privacy):
        raise SnmpDecodeError("authentication or privacy parameters in an unauthenticated message")
    return V3Message(
        msg_id, max_size, flags, engine_id, boots, engine_time, user, auth, privacy, payload, auth_offset
    )


def _guard(function, *args):  # noqa: ANN001, ANN202 - a private wrapper of the two decoders below
    try:
        return function(*args)
    except SnmpDecodeError:
        raise
    except (IndexError, ValueError, TypeError, OverflowError, struct.error) as exc:  # defence in depth
        raise SnmpDecodeError(f"malformed message: {exc}") from None


def decode_v3_message(data: bytes) -> V3Message:
    """Decode the SNMPv3 message around the scopedPDU; raise SnmpDecodeError for anything malformed."""
    return _guard(_decode, data)


def _decode_scoped(data: bytes, decrypted: bool) -> ScopedPdu:
    if type(data) is not bytes:
        data = bytes(data)
    size = len(data)
    start, end = _header(data, 0, size, 0x30, "ScopedPDU")
    trailing = size - end
    if trailing and not (decrypted and trailing <= MAX_PADDING):
        raise SnmpDecodeError(f"{trailing} octets after the ScopedPDU")
    context_engine_id, _, pos = _octets(data, start, end, "contextEngineID", MAX_ENGINE_ID)
    context_name, _, pos = _octets(data, pos, end, "contextName")
    pdu, pos = decode_pdu(data, pos, end, Version.V2C)
    if pos != end:
        raise SnmpDecodeError("octets after the PDU")
    if not isinstance(pdu, Pdu):
        raise SnmpDecodeError("v1 Trap-PDU in an SNMPv3 message")
    return ScopedPdu(context_engine_id, context_name, pdu)


def decode_scoped_pdu(data: bytes, decrypted: bool = False) -> ScopedPdu:
    """Decode a scopedPDU; ``decrypted`` allows the padding a block cipher left after it."""
    return _guard(_decode_scoped, data, decrypted)


# --------------------------------------------------------------------------- encoding


def encode_scoped_pdu(context_engine_id: bytes, context_name: bytes, pdu_tlv: bytes) -> bytes:
    if len(context_engine_id) > MAX_ENGINE_ID:
        raise SnmpEncodeError(f"contextEngineID of {len(context_engine_id)} octets (at most {MAX_ENGINE_ID})")
    return tlv(0x30, tlv(0x04, context_engine_id) + tlv(0x04, context_name) + pdu_tlv)


def _header_integer(value: int, what: str) -> bytes:
    if type(value) is not int or not 0 <= value <= INT31_MAX:
        raise SnmpEncodeError(f"{what} {value!r} outside 0..{INT31_MAX}")
    return encode_integer(value)


def encode_v3_message(
    msg_id: int,
    max_size: int,
    flags: int,
    engine_id: bytes,
    engine_boots: int,
    engine_time: int,
    user_name: bytes,
    auth_length: int,
    privacy_parameters: bytes,
    data: bytes,
) -> tuple[bytes, int]:
    """A whole message with ``auth_length`` zero octets as msgAuthenticationParameters; (message, their offset).

    ``data`` is the scopedPDU TLV, or with :data:`FLAG_PRIV` the ciphertext (wrapped here as encryptedPDU).
    The caller signs the message and puts the digest at the offset.
    """
    if not 0 <= flags <= 7 or (flags & FLAG_PRIV and not flags & FLAG_AUTH):
        raise SnmpEncodeError(f"invalid msgFlags {flags!r}")
    if max_size < MIN_MAX_SIZE:
        raise SnmpEncodeError(f"msgMaxSize {max_size} below {MIN_MAX_SIZE}")
    if len(engine_id) > MAX_ENGINE_ID or len(user_name) > MAX_USER_NAME:
        raise SnmpEncodeError("engine ID or user name longer than 32 octets")
    if not 0 <= auth_length < 0x80:
        raise SnmpEncodeError(f"authentication parameters of {auth_length} octets")
    head = (
        tlv(0x04, engine_id)
        + _header_integer(engine_boots, "msgAuthoritativeEngineBoots")
        + _header_integer(engine_time, "msgAuthoritativeEngineTime")
        + tlv(0x04, user_name)
    )
    usm_content = head + bytes((0x04, auth_length)) + bytes(auth_length) + tlv(0x04, privacy_parameters)
    usm = tlv(0x30, usm_content)
    security = tlv(0x04, usm)
    ids = _header_integer(msg_id, "msgID") + _header_integer(max_size, "msgMaxSize")
    global_data = tlv(0x30, ids + _FLAG_OCTETS[flags] + _USM_MODEL)
    body = _VERSION_3 + global_data + security + (tlv(0x04, data) if flags & FLAG_PRIV else data)
    message = tlv(0x30, body)
    # the TLV headers before the authentication parameters' contents, then what precedes them inside
    offset = (
        len(message) - len(body)
        + len(_VERSION_3) + len(global_data)
        + len(security) - len(usm)
        + len(usm) - len(usm_content)
        + len(head) + 2
    )
    return message, offset


REPORT_OIDS: Final = {
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0): "unsupportedSecLevel",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0): "notInTimeWindow",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0): "unknownUserName",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0): "unknownEngineID",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0): "wrongDigest",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0): "decryptionError",
    (1, 3, 6, 1, 6, 3, 11, 2, 1, 1, 0): "unknownSecurityModel",
    (1, 3, 6, 1, 6, 3, 11, 2, 1, 2, 0): "invalidMessage",
    (1, 3, 6, 1, 6, 3, 11, 2, 1, 3, 0): "unknownPDUHandler",
    (1, 3, 6, 1, 6, 3, 12, 1, 4, 0): "unavailableContext",
    (1, 3, 6, 1, 6, 3, 12, 1, 5, 0): "unknownContext",
}
REPORT_KIND_OIDS: Final = {kind: oid for oid, kind in REPORT_OIDS.items()}


def report_kind(pdu: Pdu) -> str:
    """What a Report PDU reports, by its first varbind (RFC 3414 3.2, RFC 3412 7.2)."""
    if pdu.type != PduType.REPORT or not pdu.varbinds:
        return "unknownReport"
    return REPORT_OIDS.get(pdu.varbinds[0][0], "unknownReport")
