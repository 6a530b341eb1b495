"""BER wire codec for SNMP v1 and v2c messages, and the PDUs and values every version carries.

Owns the bytes: encoding and decoding of whole SNMP messages (GetRequest,
GetNextRequest, GetBulkRequest, SetRequest, Response, v1 Trap, InformRequest,
SNMPv2-Trap, Report) with every SMIv2 value type. It is deliberately small and
purpose-built: pyasn1 needs ~1.8 ms to decode a 20-varbind response, this
decoder tens of microseconds (see ../shared/ARCHITECTURE.md).

Strictness: anything that is not a well-formed SNMP v1/v2c message raises
:class:`SnmpDecodeError` and nothing else. Work is bounded by the input length
(no recursion, every loop advances), lengths never reach past the enclosing
element, OIDs are limited to 128 sub-identifiers of at most 32 bits, and
integers to their SMI ranges. Encoding produces minimal definite-length BER,
byte-identical to pyasn1's and scapy's encoders with one deliberate exception:
for some negative INTEGERs the references emit a redundant leading 0xFF octet
(pyasn1 for -2**7, -2**15, -2**23, -2**31; scapy for every negative value whose
minimal form starts with 0x80); this codec emits the minimal form X.690 8.3.2
requires, as net-snmp does, and both references decode it to the same value.

The SNMPv3 message around a PDU (header, USM parameters, scopedPDU) is
:mod:`collectors.snmp.codec_v3`'s; it uses :func:`decode_pdu` and :func:`tlv` from here.

SNMPv1 messages carrying a Counter64 or an exception value are rejected in
both directions: SMIv1 has neither (RFC 2576 4.1.2.1).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from collectors.snmp.types import (
    END_OF_MIB_VIEW,
    INTEGER32_MAX,
    INTEGER32_MIN,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    UNSIGNED32_MAX,
    UNSIGNED64_MAX,
    Counter32,
    Counter64,
    ExceptionValue,
    Gauge32,
    IpAddress,
    Oid,
    Opaque,
    TimeTicks,
    Value,
    VarBind,
)

MAX_OID_ARCS: Final = 128
# 127 sub-identifiers (the first carries two arcs) of at most 5 octets each (2*40 + 2**32-1 < 2**35)
_MAX_OID_OCTETS: Final = 5 * (MAX_OID_ARCS - 1)
# Decoded OIDs are cached by their raw octets. Only short ones (real MIB objects are
# 8-25 octets) and only so many, so hostile datagrams cannot grow the cache past a few MB.
_OID_CACHE_LIMIT: Final = 50_000
_OID_CACHE_MAX_OCTETS: Final = 40


class SnmpDecodeError(ValueError):
    """The bytes are not a well-formed SNMP message."""


class SnmpEncodeError(ValueError):
    """A value cannot be represented in an SNMP message."""


class Version(IntEnum):
    V1 = 0
    V2C = 1
    V3 = 3  # the message format of collectors.snmp.codec_v3


class PduType(IntEnum):
    GET = 0xA0
    GET_NEXT = 0xA1
    RESPONSE = 0xA2
    SET = 0xA3
    TRAP_V1 = 0xA4
    GET_BULK = 0xA5
    INFORM = 0xA6
    TRAP_V2 = 0xA7
    REPORT = 0xA8


class ErrorStatus(IntEnum):
    NO_ERROR = 0
    TOO_BIG = 1
    NO_SUCH_NAME = 2
    BAD_VALUE = 3
    READ_ONLY = 4
    GEN_ERR = 5
    NO_ACCESS = 6
    WRONG_TYPE = 7
    WRONG_LENGTH = 8
    WRONG_ENCODING = 9
    WRONG_VALUE = 10
    NO_CREATION = 11
    INCONSISTENT_VALUE = 12
    RESOURCE_UNAVAILABLE = 13
    COMMIT_FAILED = 14
    UNDO_FAILED = 15
    AUTHORIZATION_ERROR = 16
    NOT_WRITABLE = 17
    INCONSISTENT_NAME = 18


@dataclass(slots=True)
class Pdu:
    """Every PDU but the v1 Trap. For GetBulk, ``error_status`` holds
    non-repeaters and ``error_index`` max-repetitions (their wire positions)."""

    type: int
    request_id: int
    error_status: int = 0
    error_index: int = 0
    varbinds: list[VarBind] = field(default_factory=list)

    @property
    def non_repeaters(self) -> int:
        return self.error_status

    @property
    def max_repetitions(self) -> int:
        return self.error_index


@dataclass(slots=True)
class TrapV1Pdu:
    """The SNMPv1 Trap-PDU (RFC 1157)."""

    enterprise: Oid
    agent_addr: IpAddress
    generic_trap: int
    specific_trap: int
    time_stamp: TimeTicks
    varbinds: list[VarBind] = field(default_factory=list)
    type: int = PduType.TRAP_V1


@dataclass(slots=True)
class Message:
    version: int
    community: bytes
    pdu: Pdu | TrapV1Pdu


# --------------------------------------------------------------------------- decoding

_oid_cache: dict[bytes, Oid] = {}


def _decode_oid(raw: bytes) -> Oid:
    """Contents of an OBJECT IDENTIFIER -> tuple; cached by raw bytes."""
    cached = _oid_cache.get(raw)
    if cached is not None:
        return cached
    if not raw:
        raise SnmpDecodeError("empty OBJECT IDENTIFIER")
    if len(raw) > _MAX_OID_OCTETS:  # reject before building a tuple of up to len(raw) arcs
        raise SnmpDecodeError(f"OBJECT IDENTIFIER of {len(raw)} octets: more than {MAX_OID_ARCS} sub-identifiers")
    if raw.isascii():  # every sub-identifier fits in one byte: the common case
        first = raw[0]
        head = (first // 40, first % 40) if first < 80 else (2, first - 80)
        oid = head + tuple(raw[1:])
    else:
        arcs: list[int] = []
        value = 0
        start = True
        for byte in raw:
            if start and byte == 0x80:
                raise SnmpDecodeError("non-minimal OBJECT IDENTIFIER sub-identifier")
            value = (value << 7) | (byte & 0x7F)
            if byte & 0x80:
                start = False
                if value > 0x1FFFFFFFF:  # before the first-arc split, 2*40 + 2**32-1 fits
                    raise SnmpDecodeError("OBJECT IDENTIFIER sub-identifier exceeds 32 bits")
            else:
                arcs.append(value)
                value = 0
                start = True
        if not start:
            raise SnmpDecodeError("truncated OBJECT IDENTIFIER sub-identifier")
        first = arcs[0]
        if first < 80:
            arcs[0:1] = (first // 40, first % 40)
        else:
            arcs[0:1] = (2, first - 80)
        oid = tuple(arcs)
        for arc in oid:
            if arc > UNSIGNED32_MAX:
                raise SnmpDecodeError("OBJECT IDENTIFIER sub-identifier exceeds 32 bits")
    if len(oid) > MAX_OID_ARCS:
        raise SnmpDecodeError(f"OBJECT IDENTIFIER longer than {MAX_OID_ARCS} sub-identifiers")
    if len(raw) <= _OID_CACHE_MAX_OCTETS:
        if len(_oid_cache) >= _OID_CACHE_LIMIT:
            _oid_cache.clear()
        _oid_cache[raw] = oid
    return oid


def _long_length(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """Long-form length whose initial octet ``first`` was at ``pos - 1``."""
    count = first & 0x7F
    if count == 0:
        raise SnmpDecodeError("indefinite length is not allowed in SNMP")
    if count > 4:
        raise SnmpDecodeError(f"length of {count} octets is too long")
    end = pos + count
    if end > len(data):
        raise SnmpDecodeError("truncated length")
    return int.from_bytes(data[pos:end], "big"), end


def _header(data: bytes, pos: int, limit: int, tag: int, what: str) -> tuple[int, int]:
    """Check the tag at ``pos``; return (content start, content end)."""
    if pos + 2 > limit:
        raise SnmpDecodeError(f"truncated {what}")
    if data[pos] != tag:
        raise SnmpDecodeError(f"{what}: expected tag 0x{tag:02x}, got 0x{data[pos]:02x}")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        length, pos = _long_length(data, pos, length)
    end = pos + length
    if end > limit:
        raise SnmpDecodeError(f"{what}: length {length} runs past its container")
    return pos, end


def _integer(data: bytes, pos: int, limit: int, what: str) -> tuple[int, int]:
    start, end = _header(data, pos, limit, 0x02, what)
    if not 0 < end - start <= 5:
        raise SnmpDecodeError(f"{what}: INTEGER of {end - start} octets")
    value = int.from_bytes(data[start:end], "big", signed=True)
    if not INTEGER32_MIN <= value <= INTEGER32_MAX:
        raise SnmpDecodeError(f"{what}: INTEGER {value} outside Integer32")
    return value, end


def _unsigned(raw: bytes, maximum: int, what: str) -> int:
    # Lenient like net-snmp: a 4-octet Counter32 with its top bit set is read as unsigned.
    if not raw:
        raise SnmpDecodeError(f"empty {what}")
    value = int.from_bytes(raw, "big")
    if value > maximum:
        raise SnmpDecodeError(f"{what} {value} out of range")
    return value


def _bad_length(name: str, length: int) -> SnmpDecodeError:
    return SnmpDecodeError(f"empty {name}" if not length else f"{name} of {length} octets")


def _decode_varbinds(data: bytes, pos: int, end: int) -> list[VarBind]:
    """The VarBindList whose contents span data[pos:end]."""
    varbinds: list[VarBind] = []
    append = varbinds.append
    oid_cache_get = _oid_cache.get
    while pos < end:
        if pos + 2 > end:
            raise SnmpDecodeError("truncated VarBind")
        if data[pos] != 0x30:
            raise SnmpDecodeError(f"VarBind: expected SEQUENCE, got tag 0x{data[pos]:02x}")
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            length, pos = _long_length(data, pos, length)
        vb_end = pos + length
        if vb_end > end:
            raise SnmpDecodeError("VarBind runs past the VarBindList")
        if pos + 2 > vb_end:
            raise SnmpDecodeError("VarBind without a name")
        if data[pos] != 0x06:
            raise SnmpDecodeError(f"VarBind name: expected OBJECT IDENTIFIER, got tag 0x{data[pos]:02x}")
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            length, pos = _long_length(data, pos, length)
        oid_end = pos + length
        if oid_end > vb_end:
            raise SnmpDecodeError("VarBind name runs past the VarBind")
        raw = data[pos:oid_end]
        oid = oid_cache_get(raw)
        if oid is None:
            oid = _decode_oid(raw)
        pos = oid_end
        if pos + 2 > vb_end:
            raise SnmpDecodeError("VarBind without a value")
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            length, pos = _long_length(data, pos, length)
        if pos + length != vb_end:
            raise SnmpDecodeError("VarBind value length does not match the VarBind")
        value: Value
        # Unsigned types: lenient like net-snmp, a 4-octet Counter32 with its top bit set reads as unsigned.
        if tag == 0x46:
            if not 0 < length <= 9:
                raise _bad_length("Counter64", length)
            value = Counter64.from_bytes(data[pos:vb_end], "big")
            if value > UNSIGNED64_MAX:
                raise SnmpDecodeError(f"Counter64 {int(value)} out of range")
        elif tag == 0x41:
            if not 0 < length <= 5:
                raise _bad_length("Counter32", length)
            value = Counter32.from_bytes(data[pos:vb_end], "big")
            if value > UNSIGNED32_MAX:
                raise SnmpDecodeError(f"Counter32 {int(value)} out of range")
        elif tag == 0x02:
            if length == 0 or length > 5:
                raise SnmpDecodeError(f"INTEGER of {length} octets")
            value = int.from_bytes(data[pos:vb_end], "big", signed=True)
            if not INTEGER32_MIN <= value <= INTEGER32_MAX:
                raise SnmpDecodeError(f"INTEGER {value} outside Integer32")
        elif tag == 0x04:
            value = data[pos:vb_end]
        elif tag == 0x42 or tag == 0x43:
            if not 0 < length <= 5:
                raise _bad_length("Gauge32" if tag == 0x42 else "TimeTicks", length)
            value = (Gauge32 if tag == 0x42 else TimeTicks).from_bytes(data[pos:vb_end], "big")
            if value > UNSIGNED32_MAX:
                raise SnmpDecodeError(f"{'Gauge32' if tag == 0x42 else 'TimeTicks'} {int(value)} out of range")
        elif tag == 0x06:
            value = _decode_oid(data[pos:vb_end])
        elif tag == 0x05:
            if length:
                raise SnmpDecodeError("NULL with contents")
            value = None
        elif tag == 0x40:
            if length != 4:
                raise SnmpDecodeError(f"IpAddress of {length} octets")
            value = IpAddress(data[pos:vb_end])
        elif tag == 0x44:
            value = Opaque(data[pos:vb_end])
        elif tag == 0x80 or tag == 0x81 or tag == 0x82:
            if length:
                raise SnmpDecodeError("exception value with contents")
            value = _EXCEPTIONS[tag]
        else:
            raise SnmpDecodeError(f"unknown value type 0x{tag:02x}")
        append((oid, value))
        pos = vb_end
    return varbinds


_EXCEPTIONS: Final[dict[int, ExceptionValue]] = {
    0x80: NO_SUCH_OBJECT,
    0x81: NO_SUCH_INSTANCE,
    0x82: END_OF_MIB_VIEW,
}
_PDU_TAGS: Final = frozenset(int(t) for t in PduType)


def open_message(data: bytes, what: str) -> tuple[bytes, int, int, int]:
    """The outer SEQUENCE of a whole message of any version: (data as bytes, version, position after it, end)."""
    if type(data) is not bytes:
        data = bytes(data)
    size = len(data)
    start, end = _header(data, 0, size, 0x30, what)
    if end != size:
        raise SnmpDecodeError(f"{size - end} trailing octets after the Message")
    version, pos = _integer(data, start, end, "version" if what == "Message" else "msgVersion")
    return data, version, pos, end


def _decode(data: bytes) -> Message:
    data, version, pos, end = open_message(data, "Message")
    if version not in (0, 1):
        raise SnmpDecodeError(f"unsupported SNMP version field {version} (v1=0, v2c=1)")
    cstart, pos = _header(data, pos, end, 0x04, "community")
    community = data[cstart:pos]
    if pos >= end:
        raise SnmpDecodeError("Message without a PDU")
    tag = data[pos]
    if tag not in _PDU_TAGS:
        raise SnmpDecodeError(f"unknown PDU type 0x{tag:02x}")
    if version == 0 and tag in (PduType.GET_BULK, PduType.INFORM, PduType.TRAP_V2, PduType.REPORT):
        raise SnmpDecodeError(f"PDU type {PduType(tag).name} is not valid in SNMPv1")
    if version == 1 and tag == PduType.TRAP_V1:
        raise SnmpDecodeError("v1 Trap-PDU in an SNMPv2c message")
    pdu, pdu_end = _decode_pdu(data, pos, end, version)
    if pdu_end != end:
        raise SnmpDecodeError("octets after the PDU")
    return Message(version, community, pdu)


def _decode_pdu(data: bytes, pos: int, limit: int, version: int) -> tuple[Pdu | TrapV1Pdu, int]:
    """The PDU whose tag is at ``pos`` (inside ``data[:limit]``) and where it ends."""
    tag = data[pos]
    if tag not in _PDU_TAGS:
        raise SnmpDecodeError(f"unknown PDU type 0x{tag:02x}")
    pstart, pend = _header(data, pos, limit, tag, "PDU")
    pdu: Pdu | TrapV1Pdu
    if tag == PduType.TRAP_V1:
        ostart, pos = _header(data, pstart, pend, 0x06, "enterprise")
        enterprise = _decode_oid(data[ostart:pos])
        astart, pos = _header(data, pos, pend, 0x40, "agent-addr")
        if pos - astart != 4:
            raise SnmpDecodeError("agent-addr must be 4 octets")
        agent_addr = IpAddress(data[astart:pos])
        generic, pos = _integer(data, pos, pend, "generic-trap")
        specific, pos = _integer(data, pos, pend, "specific-trap")
        tstart, pos = _header(data, pos, pend, 0x43, "time-stamp")
        if pos - tstart > 5:
            raise SnmpDecodeError("time-stamp too long")
        stamp = TimeTicks(_unsigned(data[tstart:pos], UNSIGNED32_MAX, "time-stamp"))
        vstart, vend = _header(data, pos, pend, 0x30, "VarBindList")
        if vend != pend:
            raise SnmpDecodeError("octets after the VarBindList")
        pdu = TrapV1Pdu(enterprise, agent_addr, generic, specific, stamp, _decode_varbinds(data, vstart, vend))
    else:
        request_id, pos = _integer(data, pstart, pend, "request-id")
        error_status, pos = _integer(data, pos, pend, "error-status")
        error_index, pos = _integer(data, pos, pend, "error-index")
        if error_status < 0 or error_index < 0:
            raise SnmpDecodeError("negative error-status, error-index or GetBulk field")
        vstart, vend = _header(data, pos, pend, 0x30, "VarBindList")
        if vend != pend:
            raise SnmpDecodeError("octets after the VarBindList")
        pdu = Pdu(tag, request_id, error_status, error_index, _decode_varbinds(data, vstart, vend))
    if version == Version.V1:
        _check_v1_values(pdu.varbinds, SnmpDecodeError)
    return pdu, pend


def decode_pdu(data: bytes, pos: int, limit: int, version: int) -> tuple[Pdu | TrapV1Pdu, int]:
    """The PDU at ``data[pos]`` (bounded by ``limit``) and the position after it; for SNMPv3's scopedPDU."""
    if pos >= limit:
        raise SnmpDecodeError("no PDU")
    return _decode_pdu(data, pos, limit, version)


def _check_v1_values(varbinds: list[VarBind], error: type[ValueError]) -> None:
    for oid, value in varbinds:
        kind = type(value)
        if kind is Counter64 or kind is ExceptionValue:
            raise error(f"SNMPv1 cannot carry {value!r} (at {'.'.join(map(str, oid))})")


def decode_message(data: bytes) -> Message:
    """Decode one SNMP v1/v2c message; raise SnmpDecodeError for anything malformed."""
    try:
        return _decode(data)
    except SnmpDecodeError:
        raise
    except (IndexError, ValueError, TypeError, OverflowError, struct.error) as exc:  # defence in depth
        raise SnmpDecodeError(f"malformed message: {exc}") from None


# --------------------------------------------------------------------------- encoding

_oid_bytes_cache: dict[Oid, bytes] = {}


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    if n < 0x1000000:
        return b"\x83" + n.to_bytes(3, "big")
    return b"\x84" + n.to_bytes(4, "big")


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag,)) + _length(n) + content


tlv = _tlv  # the public name, for the SNMPv3 message codec


def encode_pdu(
    pdu_type: int, request_id: int, error_status: int, error_index: int, varbind_list_tlv: bytes
) -> bytes:
    """One PDU TLV from an already encoded VarBindList (what SNMPv3's scopedPDU carries)."""
    body = encode_integer(request_id) + encode_integer(error_status) + encode_integer(error_index)
    return _tlv(pdu_type, body + varbind_list_tlv)


def encode_request_pdu(
    pdu_type: int, request_id: int, oids: list[Oid], non_repeaters: int = 0, max_repetitions: int = 0
) -> bytes:
    """A Get/GetNext/GetBulk PDU TLV with NULL values."""
    parts = [_tlv(0x30, encode_oid(oid) + _NULL_VALUE) for oid in oids]
    return encode_pdu(pdu_type, request_id, non_repeaters, max_repetitions, _tlv(0x30, b"".join(parts)))


_INT_ONLY: Final = {int}


def encode_oid(oid: Oid) -> bytes:
    """The complete OBJECT IDENTIFIER TLV for ``oid`` (cached).

    Arcs must be plain ``int``: ``(1, 3, 6, True)`` equals ``(1, 3, 6, 1)`` in Python,
    so the type is checked on every call, not only when the cache misses.
    """
    if type(oid) is not tuple or not set(map(type, oid)) <= _INT_ONLY:
        bad = oid if type(oid) is not tuple else next((a for a in oid if type(a) is not int), oid)
        raise SnmpEncodeError(f"invalid OBJECT IDENTIFIER arc {bad!r} in {oid!r}: arcs are plain ints in a tuple")
    cached = _oid_bytes_cache.get(oid)
    if cached is not None:
        return cached
    if len(oid) < 2:
        raise SnmpEncodeError(f"OBJECT IDENTIFIER needs at least two arcs: {oid!r}")
    if len(oid) > MAX_OID_ARCS:
        raise SnmpEncodeError(f"OBJECT IDENTIFIER longer than {MAX_OID_ARCS} arcs")
    for arc in oid:
        if not 0 <= arc <= UNSIGNED32_MAX:
            raise SnmpEncodeError(f"invalid OBJECT IDENTIFIER arc {arc!r} in {oid!r}")
    first, second = oid[0], oid[1]
    if first > 2 or (first < 2 and second >= 40):
        raise SnmpEncodeError(f"invalid first arcs {first}.{second}")
    out = bytearray()
    for arc in (first * 40 + second, *oid[2:]):
        if arc < 0x80:
            out.append(arc)
        else:
            chunk = [arc & 0x7F]
            arc >>= 7
            while arc:
                chunk.append((arc & 0x7F) | 0x80)
                arc >>= 7
            out.extend(reversed(chunk))
    encoded = _tlv(0x06, bytes(out))
    if len(_oid_bytes_cache) >= _OID_CACHE_LIMIT:
        _oid_bytes_cache.clear()
    _oid_bytes_cache[oid] = encoded
    return encoded


def _signed(value: int) -> bytes:
    return value.to_bytes((value if value >= 0 else ~value).bit_length() // 8 + 1, "big", signed=True)


def _unsigned_bytes(value: int) -> bytes:
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def encode_integer(value: int) -> bytes:
    if type(value) is not int and not (isinstance(value, int) and not isinstance(value, bool)):
        raise SnmpEncodeError(f"INTEGER must be an int, got {type(value).__name__}")
    if not INTEGER32_MIN <= value <= INTEGER32_MAX:
        raise SnmpEncodeError(f"INTEGER {value} outside Integer32")
    return _tlv(0x02, _signed(value))


def _encode_unsigned(tag: int, value: int, maximum: int, name: str) -> bytes:
    if not 0 <= value <= maximum:
        raise SnmpEncodeError(f"{name} {int(value)} out of range 0..{maximum}")
    return _tlv(tag, _unsigned_bytes(value))


def encode_value(value: Value) -> bytes:
    """The TLV of one varbind value, chosen by its exact Python type."""
    kind = type(value)
    if kind is int:
        return encode_integer(value)  # type: ignore[arg-type]
    if kind is bytes:
        return _tlv(0x04, value)  # type: ignore[arg-type]
    if kind is Counter64:
        return _encode_unsigned(0x46, value, UNSIGNED64_MAX, "Counter64")  # type: ignore[arg-type]
    if kind is Counter32:
        return _encode_unsigned(0x41, value, UNSIGNED32_MAX, "Counter32")  # type: ignore[arg-type]
    if kind is Gauge32:
        return _encode_unsigned(0x42, value, UNSIGNED32_MAX, "Gauge32")  # type: ignore[arg-type]
    if kind is TimeTicks:
        return _encode_unsigned(0x43, value, UNSIGNED32_MAX, "TimeTicks")  # type: ignore[arg-type]
    if value is None:
        return b"\x05\x00"
    if kind is tuple:
        return encode_oid(value)  # type: ignore[arg-type]
    if kind is IpAddress:
        if len(value) != 4:  # type: ignore[arg-type]
            raise SnmpEncodeError("IpAddress must be 4 octets")
        return _tlv(0x40, value)  # type: ignore[arg-type]
    if kind is Opaque:
        return _tlv(0x44, value)  # type: ignore[arg-type]
    if kind is ExceptionValue:
        return bytes((value.tag, 0))  # type: ignore[union-attr]
    raise SnmpEncodeError(f"cannot encode a {kind.__name__} as an SNMP value")


_NULL_VALUE: Final = b"\x05\x00"


def encode_varbinds(varbinds: list[VarBind]) -> bytes:
    """The VarBindList TLV."""
    parts = []
    for oid, value in varbinds:
        body = encode_oid(oid) + (_NULL_VALUE if value is None else encode_value(value))
        parts.append(_tlv(0x30, body))
    return _tlv(0x30, b"".join(parts))


def _wrap(version: int, community: bytes, pdu_tlv: bytes) -> bytes:
    if version not in (0, 1) or isinstance(version, bool):
        raise SnmpEncodeError(f"unsupported SNMP version field {version!r}")
    if not isinstance(community, bytes):
        raise SnmpEncodeError(f"community must be bytes, got {type(community).__name__}")
    return _tlv(0x30, bytes((0x02, 0x01, version)) + _tlv(0x04, community) + pdu_tlv)


def encode_pdu_message(
    version: int,
    community: bytes,
    pdu_type: int,
    request_id: int,
    error_status: int,
    error_index: int,
    varbind_list_tlv: bytes,
) -> bytes:
    """A whole message from an already encoded VarBindList (the agent's and client's fast path)."""
    body = encode_integer(request_id) + encode_integer(error_status) + encode_integer(error_index)
    return _wrap(version, community, _tlv(pdu_type, body + varbind_list_tlv))


def encode_message(message: Message) -> bytes:
    """Encode a :class:`Message`; raise SnmpEncodeError if a field cannot be represented."""
    pdu = message.pdu
    if isinstance(pdu, TrapV1Pdu):
        if message.version != Version.V1:
            raise SnmpEncodeError("the v1 Trap-PDU exists only in SNMPv1")
        if len(pdu.agent_addr) != 4:
            raise SnmpEncodeError("agent-addr must be 4 octets")
        _check_v1_values(pdu.varbinds, SnmpEncodeError)
        body = (
            encode_oid(pdu.enterprise)
            + _tlv(0x40, bytes(pdu.agent_addr))
            + encode_integer(pdu.generic_trap)
            + encode_integer(pdu.specific_trap)
            + _encode_unsigned(0x43, pdu.time_stamp, UNSIGNED32_MAX, "time-stamp")
            + encode_varbinds(pdu.varbinds)
        )
        return _wrap(message.version, message.community, _tlv(PduType.TRAP_V1, body))
    if pdu.type not in _PDU_TAGS or pdu.type == PduType.TRAP_V1:
        raise SnmpEncodeError(f"unknown PDU type {pdu.type!r}")
    if message.version == Version.V1 and pdu.type in (
        PduType.GET_BULK,
        PduType.INFORM,
        PduType.TRAP_V2,
        PduType.REPORT,
    ):
        raise SnmpEncodeError(f"PDU type {PduType(pdu.type).name} is not valid in SNMPv1")
    if pdu.error_status < 0 or pdu.error_index < 0:
        raise SnmpEncodeError("error-status, error-index and GetBulk fields must not be negative")
    if message.version == Version.V1:
        _check_v1_values(pdu.varbinds, SnmpEncodeError)
    return encode_pdu_message(
        message.version,
        message.community,
        pdu.type,
        pdu.request_id,
        pdu.error_status,
        pdu.error_index,
        encode_varbinds(pdu.varbinds),
    )


def encode_request(
    version: int,
    community: bytes,
    pdu_type: int,
    request_id: int,
    oids: list[Oid],
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """A Get/GetNext/GetBulk request with NULL values (the client's hot path)."""
    parts = []
    for oid in oids:
        name = encode_oid(oid)
        parts.append(_tlv(0x30, name + _NULL_VALUE))
    return encode_pdu_message(
        version, community, pdu_type, request_id, non_repeaters, max_repetitions, _tlv(0x30, b"".join(parts))
    )


def encode_varbind(name_tlv: bytes, value: Value) -> bytes:
    """One VarBind TLV from an already encoded name (agents serve the same names over and over)."""
    return _tlv(0x30, name_tlv + encode_value(value))


def encode_sequence(parts: list[bytes]) -> bytes:
    """A SEQUENCE of already encoded elements, e.g. a VarBindList of :func:`encode_varbind` results."""
    return _tlv(0x30, b"".join(parts))
