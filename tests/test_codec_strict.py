"""Strictness of the SNMP BER codec (collectors/snmp/codec.py), case by case.

Hand-written malformed inputs, each of which must raise ``SnmpDecodeError`` with a message
that names what is wrong (never the generic "malformed message: ..." that decode_message
wraps around an unexpected IndexError/ValueError): framing (indefinite length, length of
length > 4, truncation at every octet, trailing octets, wrong tags), version/PDU combinations
(SNMPv3, v1 with GetBulk, v2c with the v1 Trap-PDU), OBJECT IDENTIFIERs (0x80 leading octet,
sub-identifier > 2**32-1, > 128 arcs), value ranges and sizes of every type.

Then the encoder's refusals (``SnmpEncodeError``), and the leniencies we chose on purpose:
a Counter32 sent in 4 octets with the top bit set decodes as unsigned (like net-snmp), BER's
non-minimal lengths and INTEGERs decode (pyasn1 and scapy produce the latter).

The malformed inputs are built here from raw TLVs, not with the codec under test.
"""

from __future__ import annotations

import dataclasses

import pytest

from collectors.snmp.codec import (
    Message,
    Pdu,
    PduType,
    SnmpDecodeError,
    SnmpEncodeError,
    TrapV1Pdu,
    Version,
    decode_message,
    encode_message,
    encode_oid,
    encode_request,
    encode_value,
)
from collectors.snmp.types import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    Counter32,
    Counter64,
    Gauge32,
    IpAddress,
    Opaque,
    TimeTicks,
    Value,
)

# --------------------------------------------------------------------------- raw BER builders


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + length(len(content)) + content


def integer(value: int, tag: int = 0x02) -> bytes:
    return tlv(tag, value.to_bytes((value if value >= 0 else ~value).bit_length() // 8 + 1, "big", signed=True))


def oid(*subidentifiers: int) -> bytes:
    """OBJECT IDENTIFIER contents from raw sub-identifiers (the first already combines two arcs)."""
    out = bytearray()
    for sub in subidentifiers:
        chunk = [sub & 0x7F]
        sub >>= 7
        while sub:
            chunk.append(0x80 | (sub & 0x7F))
            sub >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


SYS_DESCR = tlv(0x06, oid(43, 6, 1, 2, 1, 1, 1, 0))  # 1.3.6.1.2.1.1.1.0
V1 = integer(0)
V2C = integer(1)
PUBLIC = tlv(0x04, b"public")
PDU_HEAD = integer(1) + integer(0) + integer(0)  # request-id, error-status, error-index


def message(pdu_tlv: bytes, version: bytes = V2C, community: bytes = PUBLIC) -> bytes:
    return tlv(0x30, version + community + pdu_tlv)


def pdu(varbind_list_content: bytes = b"", tag: int = PduType.RESPONSE, head: bytes = PDU_HEAD) -> bytes:
    return tlv(tag, head + tlv(0x30, varbind_list_content))


def varbind(value_tlv: bytes, name: bytes = SYS_DESCR) -> bytes:
    return tlv(0x30, name + value_tlv)


def response(*varbind_tlvs: bytes, version: bytes = V2C) -> bytes:
    return message(pdu(b"".join(varbind_tlvs)), version)


def with_value(value_tlv: bytes, version: bytes = V2C) -> bytes:
    return response(varbind(value_tlv), version=version)


def with_name(name_tlv: bytes) -> bytes:
    return response(varbind(b"\x05\x00", name=name_tlv))


def trap(
    enterprise: bytes = tlv(0x06, oid(43, 6, 1, 4, 1, 8072)),
    agent: bytes = tlv(0x40, bytes((10, 0, 0, 7))),
    generic: bytes = integer(6),
    specific: bytes = integer(1),
    stamp: bytes = integer(12345, tag=0x43),
    varbinds: bytes = tlv(0x30, b""),
    version: bytes = V1,
) -> bytes:
    return message(tlv(PduType.TRAP_V1, enterprise + agent + generic + specific + stamp + varbinds), version)


def test_builders_make_valid_messages() -> None:
    """The baselines decode, so each malformed case below fails for its one defect only."""
    assert decode_message(response(varbind(b"\x05\x00"))).pdu.varbinds == [((1, 3, 6, 1, 2, 1, 1, 1, 0), None)]
    assert decode_message(with_value(tlv(0x04, b"ok"))).pdu.varbinds[0][1] == b"ok"
    assert decode_message(with_name(tlv(0x06, oid(43, 6)))).pdu.varbinds[0][0] == (1, 3, 6)
    decoded = decode_message(trap())
    assert isinstance(decoded.pdu, TrapV1Pdu) and decoded.pdu.enterprise == (1, 3, 6, 1, 4, 1, 8072)
    assert decode_message(message(pdu(tag=PduType.GET_BULK))).pdu.type == PduType.GET_BULK
    assert decode_message(message(pdu(tag=PduType.GET), version=V1)).version == 0


# --------------------------------------------------------------------------- malformed inputs

VALID = response(varbind(tlv(0x04, b"x")))
MAX_SUB = 2**32 - 1
ARCS_128 = oid(43, *range(126))  # 1.3 + 126 more
ARCS_129 = oid(43, *range(127))

MALFORMED: list[tuple[str, bytes, str]] = [
    # framing
    ("empty input", b"", r"truncated Message"),
    ("one octet", b"\x30", r"truncated Message"),
    ("not a SEQUENCE", b"\x31" + VALID[1:], r"Message: expected tag 0x30, got 0x31"),
    ("indefinite length", b"\x30\x80" + VALID[2:] + b"\x00\x00", r"indefinite length is not allowed"),
    ("length of length 5", b"\x30\x85\x00\x00\x00\x00" + bytes((len(VALID) - 2,)) + VALID[2:], r"length of 5 octets"),
    ("length of length 127", b"\x30\xff" + b"\x00" * 127, r"length of 127 octets"),
    ("long form cut short", b"\x30\x82\x01", r"truncated length"),
    ("length past the datagram", b"\x30\x84\xff\xff\xff\xff" + VALID[2:], r"runs past its container"),
    ("one trailing octet", VALID + b"\x00", r"1 trailing octets after the Message"),
    ("a second message after the first", VALID + VALID, rf"{len(VALID)} trailing octets"),
    ("SEQUENCE shorter than its contents", b"\x30" + bytes((VALID[1] - 1,)) + VALID[2:], r"trailing octets"),
    # version and community
    ("no version", tlv(0x30, b""), r"truncated version"),
    ("version is an OCTET STRING", message(pdu(), version=tlv(0x04, b"\x01")), r"version: expected tag 0x02"),
    ("version of 0 octets", message(pdu(), version=b"\x02\x00"), r"version: INTEGER of 0 octets"),
    ("version of 6 octets", message(pdu(), version=b"\x02\x06" + bytes(5) + b"\x01"), r"version: INTEGER of 6"),
    ("SNMPv2u/v2* version 2", message(pdu(), version=integer(2)), r"unsupported SNMP version field 2"),
    ("SNMPv3 version 3", message(pdu(), version=integer(3)), r"unsupported SNMP version field 3"),
    ("negative version", message(pdu(), version=integer(-1)), r"unsupported SNMP version field -1"),
    ("no community", tlv(0x30, V2C), r"truncated community"),
    ("community is an INTEGER", message(pdu(), community=integer(5)), r"community: expected tag 0x04"),
    ("community past the message", tlv(0x30, V2C + b"\x04\x10public"), r"community: length 16 runs past"),
    # PDU
    ("no PDU", tlv(0x30, V2C + PUBLIC), r"Message without a PDU"),
    ("unknown PDU tag 0xa9", message(pdu(tag=0xA9)), r"unknown PDU type 0xa9"),
    ("PDU is a SEQUENCE", message(pdu(tag=0x30)), r"unknown PDU type 0x30"),
    ("primitive PDU tag 0x82", message(pdu(tag=0x82)), r"unknown PDU type 0x82"),
    ("v1 with GetBulk", message(pdu(tag=PduType.GET_BULK), version=V1), r"GET_BULK is not valid in SNMPv1"),
    ("v1 with Inform", message(pdu(tag=PduType.INFORM), version=V1), r"INFORM is not valid in SNMPv1"),
    ("v1 with SNMPv2-Trap", message(pdu(tag=PduType.TRAP_V2), version=V1), r"TRAP_V2 is not valid in SNMPv1"),
    ("v1 with Report", message(pdu(tag=PduType.REPORT), version=V1), r"REPORT is not valid in SNMPv1"),
    ("v2c with the v1 Trap-PDU", trap(version=V2C), r"v1 Trap-PDU in an SNMPv2c message"),
    ("octets after the PDU", tlv(0x30, V2C + PUBLIC + pdu() + b"\x05\x00"), r"octets after the PDU"),
    ("PDU past the message", tlv(0x30, V2C + PUBLIC + b"\xa2\x20" + PDU_HEAD), r"PDU: length 32 runs past"),
    ("no request-id", message(tlv(0xA2, b"")), r"truncated request-id"),
    ("request-id 2**31", message(pdu(head=integer(2**31) + integer(0) + integer(0))), r"outside Integer32"),
    ("request-id -2**31-1", message(pdu(head=integer(-(2**31) - 1) + integer(0) * 2)), r"outside Integer32"),
    ("request-id of 6 octets", message(pdu(head=b"\x02\x06" + bytes(6) + integer(0) * 2)), r"INTEGER of 6"),
    ("error-status -1", message(pdu(head=integer(1) + integer(-1) + integer(0))), r"negative error-status"),
    ("error-index -1", message(pdu(head=integer(1) + integer(0) + integer(-1))), r"negative error-status"),
    ("GetBulk non-repeaters -1", message(pdu(tag=0xA5, head=integer(1) + integer(-1) + integer(5))), r"GetBulk"),
    ("no error-index", message(tlv(0xA2, integer(1) + integer(0) + tlv(0x30, b""))), r"error-index: expected"),
    ("no VarBindList", message(tlv(0xA2, PDU_HEAD)), r"truncated VarBindList"),
    ("VarBindList is a SET", message(tlv(0xA2, PDU_HEAD + tlv(0x31, b""))), r"VarBindList: expected tag 0x30"),
    ("octets after the VarBindList", message(tlv(0xA2, PDU_HEAD + tlv(0x30, b"") + b"\x05\x00")), r"after the VarB"),
    # VarBind framing
    ("lone octet in the VarBindList", response(b"\x30"), r"truncated VarBind"),
    ("empty VarBind", response(b"\x30\x00"), r"VarBind without a name"),
    ("empty VarBind before another", response(b"\x30\x00", varbind(b"\x05\x00")), r"VarBind without a name"),
    ("VarBind is a SET", response(tlv(0x31, SYS_DESCR + b"\x05\x00")), r"VarBind: expected SEQUENCE, got tag 0x31"),
    ("VarBind past the list", response(b"\x30\x20" + SYS_DESCR + b"\x05\x00"), r"VarBind runs past the VarBindList"),
    ("VarBind of 1 octet", response(b"\x30\x01\x06"), r"VarBind without a name"),
    ("name is an OCTET STRING", with_name(tlv(0x04, b"+\x06")), r"VarBind name: expected OBJECT IDENTIFIER"),
    ("name past the VarBind", response(tlv(0x30, b"\x06\x20" + SYS_DESCR[2:])), r"VarBind name runs past"),
    ("VarBind without a value", response(tlv(0x30, SYS_DESCR)), r"VarBind without a value"),
    ("value past the VarBind", response(tlv(0x30, SYS_DESCR + b"\x04\x05ab")), r"value length does not match"),
    ("octets after the value", response(tlv(0x30, SYS_DESCR + b"\x05\x00\x05\x00")), r"value length does not match"),
    ("value length-of-length 5", response(tlv(0x30, SYS_DESCR + b"\x04\x85\x00\x00\x00\x00\x00")), r"5 octets"),
    ("indefinite value length", response(tlv(0x30, SYS_DESCR + b"\x04\x80ab\x00\x00")), r"indefinite length"),
    # OBJECT IDENTIFIER
    ("empty OID name", with_name(b"\x06\x00"), r"empty OBJECT IDENTIFIER"),
    ("empty OID value", with_value(b"\x06\x00"), r"empty OBJECT IDENTIFIER"),
    ("OID with 0x80 leading octet", with_name(tlv(0x06, b"\x2b\x80\x01")), r"non-minimal OBJECT IDENTIFIER"),
    ("OID starting with 0x80", with_name(tlv(0x06, b"\x80\x2b")), r"non-minimal OBJECT IDENTIFIER"),
    ("OID value with 0x80 leading octet", with_value(tlv(0x06, b"\x2b\x06\x80\x80\x01")), r"non-minimal"),
    ("sub-identifier 2**32", with_name(tlv(0x06, oid(43, 2**32))), r"exceeds 32 bits"),
    ("sub-identifier 2**35", with_name(tlv(0x06, oid(43, 2**35))), r"exceeds 32 bits"),
    ("sub-identifier 2**64", with_value(tlv(0x06, oid(43, 2**64))), r"exceeds 32 bits"),
    ("second arc 2**32 below 2", with_name(tlv(0x06, oid(80 + 2**32))), r"exceeds 32 bits"),
    ("unterminated sub-identifier", with_name(tlv(0x06, b"\x2b\x06\x81")), r"truncated OBJECT IDENTIFIER"),
    ("OID of 129 arcs", with_name(tlv(0x06, ARCS_129)), r"longer than 128 sub-identifiers"),
    ("OID value of 129 arcs", with_value(tlv(0x06, ARCS_129)), r"longer than 128 sub-identifiers"),
    ("OID of 129 large arcs", with_name(tlv(0x06, oid(43, *[MAX_SUB] * 127))), r"than 128 sub-identifiers"),
    ("OID of 64 KiB", with_name(tlv(0x06, b"\x2b" + b"\x01" * 65000)), r"than 128 sub-identifiers"),
    # INTEGER values
    ("INTEGER of 0 octets", with_value(b"\x02\x00"), r"INTEGER of 0 octets"),
    ("INTEGER of 6 octets", with_value(b"\x02\x06" + bytes(6)), r"INTEGER of 6 octets"),
    ("INTEGER 2**31", with_value(integer(2**31)), r"INTEGER 2147483648 outside Integer32"),
    ("INTEGER 2**32-1", with_value(integer(2**32 - 1)), r"INTEGER 4294967295 outside Integer32"),
    ("INTEGER -2**31-1", with_value(integer(-(2**31) - 1)), r"INTEGER -2147483649 outside Integer32"),
    # unsigned application types
    ("Counter32 2**32", with_value(integer(2**32, 0x41)), r"Counter32 4294967296 out of range"),
    ("Counter32 of 6 octets", with_value(b"\x41\x06\x00\x00\x00\x00\x00\x01"), r"Counter32 of 6 octets"),
    ("empty Counter32", with_value(b"\x41\x00"), r"empty Counter32"),
    ("Gauge32 2**32", with_value(integer(2**32, 0x42)), r"Gauge32 4294967296 out of range"),
    ("Gauge32 of 6 octets", with_value(b"\x42\x06" + bytes(6)), r"Gauge32 of 6 octets"),
    ("empty Gauge32", with_value(b"\x42\x00"), r"empty Gauge32"),
    ("TimeTicks 2**32", with_value(integer(2**32, 0x43)), r"TimeTicks 4294967296 out of range"),
    ("TimeTicks of 6 octets", with_value(b"\x43\x06" + bytes(6)), r"TimeTicks of 6 octets"),
    ("empty TimeTicks", with_value(b"\x43\x00"), r"empty TimeTicks"),
    ("Counter64 2**64", with_value(integer(2**64, 0x46)), r"Counter64 18446744073709551616 out of range"),
    ("Counter64 of 10 octets", with_value(b"\x46\x0a" + bytes(10)), r"Counter64 of 10 octets"),
    ("empty Counter64", with_value(b"\x46\x00"), r"empty Counter64"),
    # NULL, exceptions, IpAddress, unknown types
    ("NULL with contents", with_value(b"\x05\x01\x00"), r"NULL with contents"),
    ("noSuchObject with contents", with_value(b"\x80\x01\x00"), r"exception value with contents"),
    ("noSuchInstance with contents", with_value(b"\x81\x01\x00"), r"exception value with contents"),
    ("endOfMibView with contents", with_value(b"\x82\x02\x00\x00"), r"exception value with contents"),
    ("IpAddress of 3 octets", with_value(tlv(0x40, b"\x0a\x00\x00")), r"IpAddress of 3 octets"),
    ("IpAddress of 5 octets", with_value(tlv(0x40, b"\x0a\x00\x00\x01\x02")), r"IpAddress of 5 octets"),
    ("IPv6 in an IpAddress", with_value(tlv(0x40, bytes(16))), r"IpAddress of 16 octets"),
    ("empty IpAddress", with_value(b"\x40\x00"), r"IpAddress of 0 octets"),
    ("NsapAddress (APPLICATION 5)", with_value(tlv(0x45, b"\x01")), r"unknown value type 0x45"),
    ("UInteger32 (APPLICATION 7)", with_value(integer(5, 0x47)), r"unknown value type 0x47"),
    ("BOOLEAN", with_value(b"\x01\x01\xff"), r"unknown value type 0x01"),
    ("SEQUENCE as a value", with_value(tlv(0x30, b"\x05\x00")), r"unknown value type 0x30"),
    ("context tag 3", with_value(b"\x83\x00"), r"unknown value type 0x83"),
    ("constructed OCTET STRING", with_value(tlv(0x24, tlv(0x04, b"ab"))), r"unknown value type 0x24"),
    ("high tag number form", with_value(b"\x1f\x01\x00"), r"unknown value type 0x1f"),
    # v1 Trap-PDU
    ("empty enterprise", trap(enterprise=b"\x06\x00"), r"empty OBJECT IDENTIFIER"),
    ("enterprise is an OCTET STRING", trap(enterprise=tlv(0x04, b"+")), r"enterprise: expected tag 0x06"),
    ("enterprise of 129 arcs", trap(enterprise=tlv(0x06, ARCS_129)), r"longer than 128"),
    ("agent-addr of 3 octets", trap(agent=tlv(0x40, b"\x0a\x00\x00")), r"agent-addr must be 4 octets"),
    ("agent-addr of 16 octets", trap(agent=tlv(0x40, bytes(16))), r"agent-addr must be 4 octets"),
    ("agent-addr as OCTET STRING", trap(agent=tlv(0x04, bytes(4))), r"agent-addr: expected tag 0x40"),
    ("generic-trap 2**31", trap(generic=integer(2**31)), r"generic-trap: INTEGER 2147483648 outside"),
    ("specific-trap of 6 octets", trap(specific=b"\x02\x06" + bytes(6)), r"specific-trap: INTEGER of 6"),
    ("time-stamp 2**32", trap(stamp=integer(2**32, 0x43)), r"time-stamp 4294967296 out of range"),
    ("time-stamp of 6 octets", trap(stamp=b"\x43\x06" + bytes(6)), r"time-stamp too long"),
    ("empty time-stamp", trap(stamp=b"\x43\x00"), r"empty time-stamp"),
    ("time-stamp as INTEGER", trap(stamp=integer(5)), r"time-stamp: expected tag 0x43"),
    ("trap without VarBindList", trap(varbinds=b""), r"truncated VarBindList"),
    ("trap VarBindList with garbage", trap(varbinds=tlv(0x30, b"\x05\x00")), r"VarBind: expected SEQUENCE"),
]


@pytest.mark.parametrize(("data", "match"), [pytest.param(d, m, id=name) for name, d, m in MALFORMED])
def test_malformed_input_raises_a_specific_snmp_decode_error(data: bytes, match: str) -> None:
    with pytest.raises(SnmpDecodeError, match=match) as caught:
        decode_message(data)
    assert type(caught.value) is SnmpDecodeError
    assert not str(caught.value).startswith("malformed message"), "caught only by the defence-in-depth wrapper"


def test_malformed_case_names_are_unique() -> None:
    names = [name for name, _, _ in MALFORMED]
    assert len(names) == len(set(names))


def _every_pdu_type() -> list[Message]:
    vbs = [
        ((1, 3, 6, 1, 2, 1, 1, 1, 0), b"Linux fw-01"),
        ((1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 3), Counter32(2**32 - 1)),
        ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 3), Counter64(2**64 - 1)),
        ((1, 3, 6, 1, 2, 1, 1, 3, 0), TimeTicks(1)),
        ((1, 3, 6, 1, 2, 1, 1, 2, 0), (1, 3, 6, 1, 4, 1, 8072)),
        ((1, 3, 6, 1, 2, 1, 4, 20, 1, 1, 10, 0, 0, 7), IpAddress(bytes((10, 0, 0, 7)))),
        ((2, 999, 4_294_967_295), -(2**31)),
        ((1, 3, 6, 1, 4, 1, 1), Opaque(b"\x9f\x78\x04\x42\xf6\x00\x00")),
        ((1, 3, 6, 1, 4, 1, 2), None),
        ((1, 3, 6, 1, 4, 1, 3), Gauge32(0)),
        ((1, 3, 6, 1, 4, 1, 4), END_OF_MIB_VIEW),
    ]
    v1_vbs = [vb for vb in vbs if not isinstance(vb[1], Counter64) and vb[1] is not END_OF_MIB_VIEW]
    out = [Message(Version.V2C, b"public", Pdu(t, 7, 0, 0, vbs)) for t in PduType if t != PduType.TRAP_V1]
    out += [Message(Version.V1, b"public", Pdu(t, 7, 2, 1, v1_vbs)) for t in PduType if t <= PduType.SET]
    trap_pdu = TrapV1Pdu((1, 3, 6, 1, 4, 1, 8072), IpAddress(b"\x0a\x00\x00\x07"), 6, 1, TimeTicks(5), v1_vbs)
    return [*out, Message(Version.V1, b"public", trap_pdu)]


def reframed_prefix(data: bytes, cut: int) -> bytes:
    """``data[:cut]`` with the length of every constructed element that encloses the cut
    rewritten to end there: the message ends early inside one element, yet every outer
    length agrees. The element cut short keeps its original header (it claims more)."""

    def read_length(pos: int) -> tuple[int, int]:
        n = data[pos]
        if n < 0x80:
            return n, pos + 1
        return int.from_bytes(data[pos + 1 : pos + 1 + (n & 0x7F)], "big"), pos + 1 + (n & 0x7F)

    def walk(start: int, end: int) -> bytes:
        out = bytearray()
        pos = start
        while pos < min(end, cut):
            if pos + 1 >= cut:
                return bytes(out + data[pos:cut])  # cut inside the header
            n, content = read_length(pos + 1)
            if content > cut:
                return bytes(out + data[pos:cut])
            if content + n <= cut:
                out += data[pos : content + n]
                pos = content + n
                continue
            if data[pos] & 0x20:  # constructed: shrink it around the cut
                inner = walk(content, content + n)
                return bytes(out + tlv(data[pos], inner))
            return bytes(out + data[pos:cut])  # primitive cut short
        return bytes(out)

    return walk(0, len(data))


@pytest.mark.parametrize(
    "msg", _every_pdu_type(), ids=lambda m: f"{('v1', 'v2c')[m.version]}-{PduType(m.pdu.type).name}"
)
def test_truncated_at_every_octet(msg: Message) -> None:
    """Every proper prefix of a valid message is rejected with a specific error; so is every
    prefix re-framed so that only the innermost element is cut short (see reframed_prefix).
    A re-framed cut between two VarBinds is a valid, shorter message and must decode as such."""
    data = encode_message(msg)
    assert decode_message(data) == msg
    accepted = 0
    for cut in range(len(data)):
        with pytest.raises(SnmpDecodeError) as caught:
            decode_message(data[:cut])
        assert not str(caught.value).startswith("malformed message"), (cut, str(caught.value))
        reframed = reframed_prefix(data, cut)
        try:
            decoded = decode_message(reframed)
        except SnmpDecodeError as exc:
            assert not str(exc).startswith("malformed message"), (cut, str(exc), reframed.hex())
        else:
            accepted += 1
            kept = len(decoded.pdu.varbinds)
            assert kept < len(msg.pdu.varbinds), reframed.hex()
            shorter = dataclasses.replace(msg.pdu, varbinds=msg.pdu.varbinds[:kept])
            assert decoded == Message(msg.version, msg.community, shorter), reframed.hex()
    assert accepted == len(msg.pdu.varbinds)  # one accepted cut per VarBind boundary (incl. the empty list)


def test_decode_accepts_bytes_like_input() -> None:
    data = encode_message(_every_pdu_type()[0])
    expected = decode_message(data)
    assert decode_message(bytearray(data)) == expected
    assert decode_message(memoryview(data)) == expected


# --------------------------------------------------------------------------- leniency on purpose


@pytest.mark.parametrize(
    ("tag", "kind"), [(0x41, Counter32), (0x42, Gauge32), (0x43, TimeTicks)], ids=["Counter32", "Gauge32", "TimeTicks"]
)
@pytest.mark.parametrize("raw", [b"\x80\x00\x00\x00", b"\xff\xff\xff\xff", b"\xde\xad\xbe\xef"])
def test_four_octet_unsigned_with_top_bit_set_decodes_as_unsigned(tag: int, kind: type, raw: bytes) -> None:
    """Some agents send Counter32 3000000000 as 41 04 b2 d0 5e 00 (no leading 0x00, so
    strictly a negative two's-complement number). Like net-snmp we read it as unsigned."""
    value = decode_message(with_value(bytes((tag, 4)) + raw)).pdu.varbinds[0][1]
    assert type(value) is kind
    assert value == int.from_bytes(raw, "big") >= 2**31
    assert encode_value(value) == bytes((tag, 5, 0)) + raw  # and we send the correct form


def test_eight_octet_counter64_with_top_bit_set_decodes_as_unsigned() -> None:
    value = decode_message(with_value(b"\x46\x08" + b"\xff" * 8)).pdu.varbinds[0][1]
    assert type(value) is Counter64 and value == 2**64 - 1


def test_unsigned_with_redundant_leading_zero_octets_decodes() -> None:
    assert decode_message(with_value(b"\x41\x05\x00\x00\x00\x00\x07")).pdu.varbinds[0][1] == 7
    assert decode_message(with_value(b"\x46\x09" + bytes(8) + b"\x01")).pdu.varbinds[0][1] == 1


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"\x02\x02\xff\x80", -128),  # what pyasn1 and scapy send for -2**7
        (b"\x02\x05\xff\x80\x00\x00\x00", -(2**31)),
        (b"\x02\x04\xff\xff\xff\xff", -1),
        (b"\x02\x05\x00\x00\x00\x00\x05", 5),
    ],
)
def test_non_minimal_integer_decodes(raw: bytes, value: int) -> None:
    """X.690 forbids these for DER, BER decoders accept them; the references emit the first two."""
    assert decode_message(with_value(raw)).pdu.varbinds[0][1] == value


def test_non_minimal_length_forms_decode() -> None:
    """BER allows long-form lengths for short contents (some agents send 0x82 everywhere)."""
    body = SYS_DESCR + b"\x04\x81\x01x"
    inner = b"\x30\x81" + bytes((len(body),)) + body
    data = message(tlv(0xA2, PDU_HEAD + b"\x30\x84\x00\x00\x00" + bytes((len(inner),)) + inner))
    data = b"\x30\x82\x00" + bytes((len(data) - 2,)) + data[2:]
    decoded = decode_message(data)
    assert decoded.pdu.varbinds == [((1, 3, 6, 1, 2, 1, 1, 1, 0), b"x")]
    assert encode_message(decoded) == VALID  # and we re-encode minimally


def test_boundaries_that_are_valid_decode() -> None:
    """The last valid value before each limit above is accepted."""
    assert decode_message(with_name(tlv(0x06, ARCS_128))).pdu.varbinds[0][0] == (1, 3, *range(126))
    big = decode_message(with_name(tlv(0x06, oid(80 + MAX_SUB, MAX_SUB)))).pdu.varbinds[0][0]
    assert big == (2, MAX_SUB, MAX_SUB)
    largest = decode_message(with_name(tlv(0x06, oid(80 + MAX_SUB, *[MAX_SUB] * 126)))).pdu.varbinds[0][0]
    assert len(largest) == 128 and len(encode_oid(largest)) == 2 + 2 + 635  # 0x06 0x82 0x02 0x7b
    vbs = decode_message(
        response(
            varbind(integer(2**31 - 1)),
            varbind(integer(-(2**31))),
            varbind(integer(2**32 - 1, 0x41)),
            varbind(integer(2**64 - 1, 0x46)),
            varbind(b"\x80\x00"),
            varbind(tlv(0x04, bytes(70_000))),
        )
    ).pdu.varbinds
    assert [v for _, v in vbs[:5]] == [2**31 - 1, -(2**31), 2**32 - 1, 2**64 - 1, NO_SUCH_OBJECT]
    assert vbs[5][1] == bytes(70_000)


# --------------------------------------------------------------------------- encode errors


def _msg(value: Value, version: int = Version.V2C) -> Message:
    return Message(version, b"public", Pdu(PduType.SET, 1, 0, 0, [((1, 3, 6, 1, 2, 1, 1, 5, 0), value)]))


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (True, r"cannot encode a bool"),
        (False, r"cannot encode a bool"),
        (1.5, r"cannot encode a float"),
        ("text", r"cannot encode a str"),
        ([1, 3, 6], r"cannot encode a list"),
        (bytearray(b"x"), r"cannot encode a bytearray"),
        (2**31, r"INTEGER 2147483648 outside Integer32"),
        (-(2**31) - 1, r"INTEGER -2147483649 outside Integer32"),
        (Counter32(2**32), r"Counter32 4294967296 out of range"),
        (Counter32(-1), r"Counter32 -1 out of range"),
        (Gauge32(2**32), r"Gauge32 4294967296 out of range"),
        (TimeTicks(-1), r"TimeTicks -1 out of range"),
        (Counter64(2**64), r"Counter64 18446744073709551616 out of range"),
        (Counter64(-1), r"Counter64 -1 out of range"),
        (IpAddress(b"\x0a\x00\x00"), r"IpAddress must be 4 octets"),
        (IpAddress(bytes(16)), r"IpAddress must be 4 octets"),
        ((1,), r"at least two arcs"),
        ((3, 1), r"invalid first arcs 3\.1"),
        ((1, 40), r"invalid first arcs 1\.40"),
        ((0, 40, 1), r"invalid first arcs 0\.40"),
        ((1, 3, 2**32), r"invalid OBJECT IDENTIFIER arc 4294967296"),
        ((1, 3, -1), r"invalid OBJECT IDENTIFIER arc -1"),
        # an OID no other test encodes: once the equal all-int OID is cached it is accepted
        # (see test_bool_arc_is_rejected_even_after_the_equal_oid_was_cached)
        ((1, 3, 6, 1, 4, 1, 57_005, 48_879, 1.0), r"invalid OBJECT IDENTIFIER arc 1\.0"),
        ((1, 3, *range(127)), r"longer than 128 arcs"),
    ],
    ids=repr,
)
def test_unrepresentable_value_raises_snmp_encode_error(value: object, match: str) -> None:
    with pytest.raises(SnmpEncodeError, match=match):
        encode_value(value)  # type: ignore[arg-type]
    with pytest.raises(SnmpEncodeError, match=match):
        encode_message(_msg(value))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("oid_value", "match"),
    [
        ((), r"at least two arcs"),
        ((1,), r"at least two arcs"),
        ((2,), r"at least two arcs"),
        ((3, 0), r"invalid first arcs 3\.0"),
        ((1, 40, 1), r"invalid first arcs 1\.40"),
        ((1, 3, 6, 1, 4, 1, 57_005, 48_879, True), r"invalid OBJECT IDENTIFIER arc True"),  # see the xfail below
        ((1, 3, 2**32), r"invalid OBJECT IDENTIFIER arc"),
        ((0,) * 129, r"longer than 128 arcs"),
    ],
    ids=repr,
)
def test_bad_oid_name_raises_snmp_encode_error(oid_value: tuple[int, ...], match: str) -> None:
    with pytest.raises(SnmpEncodeError, match=match):
        encode_oid(oid_value)
    with pytest.raises(SnmpEncodeError, match=match):
        encode_message(Message(Version.V2C, b"public", Pdu(PduType.GET, 1, 0, 0, [(oid_value, None)])))
    with pytest.raises(SnmpEncodeError, match=match):
        encode_request(Version.V2C, b"public", PduType.GET, 1, [oid_value])


def test_oid_boundaries_that_are_valid_encode() -> None:
    assert encode_oid((0, 0)) == b"\x06\x01\x00"
    assert encode_oid((1, 39)) == b"\x06\x01\x4f"
    assert encode_oid((2, 40)) == b"\x06\x01\x78"  # 2.x has no limit on x
    assert encode_oid((2, 2**32 - 1)) == b"\x06\x05\x90\x80\x80\x80\x4f"  # 80 + 2**32 - 1
    assert len(encode_oid((1, 3, *range(126)))) == 2 + 127


def test_bool_or_float_arc_is_rejected_even_after_the_equal_oid_was_cached() -> None:
    # (1, 3, 6, True) == (1, 3, 6, 1) in Python: a cache keyed by the tuple must not let it through
    for bad in ((1, 3, 6, 1, 9, 9, True), (1, 3, 6, 1, 9, 9, 1.0)):
        with pytest.raises(SnmpEncodeError):
            encode_oid(bad)  # type: ignore[arg-type]
        encode_oid((1, 3, 6, 1, 9, 9, 1))
        with pytest.raises(SnmpEncodeError):
            encode_oid(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (Message(Version.V1, [1], Pdu(PduType.GET, 1)), r"community must be bytes"),  # type: ignore[arg-type]
        (Message(Version.V1, "public", Pdu(PduType.GET, 1)), r"community must be bytes"),  # type: ignore[arg-type]
        (Message(Version.V2C, b"public", Pdu(PduType.GET, True)), r"INTEGER must be an int"),
        (Message(Version.V2C, b"public", Pdu(PduType.GET, 1, 0, 0, [([1, 3, 6], None)])), r"arcs are plain ints"),  # type: ignore[list-item]
        (Message(Version.V1, b"public", Pdu(PduType.RESPONSE, 1, 0, 0, [((1, 3, 6), Counter64(1))])), r"SNMPv1 cannot"),
        (
            Message(Version.V1, b"public", Pdu(PduType.RESPONSE, 1, 0, 0, [((1, 3, 6), END_OF_MIB_VIEW)])),
            r"SNMPv1 cannot",
        ),
    ],
)
def test_wrong_types_raise_snmp_encode_error_not_type_error(message: Message, match: str) -> None:
    with pytest.raises(SnmpEncodeError, match=match):
        encode_message(message)


def test_v1_message_with_counter64_or_exception_is_rejected_on_decode() -> None:
    for value in (Counter64(5), NO_SUCH_OBJECT):
        v2c = encode_message(Message(Version.V2C, b"public", Pdu(PduType.RESPONSE, 1, 0, 0, [((1, 3, 6), value)])))
        as_v1 = v2c.replace(b"\x02\x01\x01", b"\x02\x01\x00", 1)  # flip the version field to v1
        with pytest.raises(SnmpDecodeError, match="SNMPv1 cannot"):
            decode_message(as_v1)


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        (Message(2, b"public", Pdu(PduType.GET, 1)), r"unsupported SNMP version field 2"),
        (Message(3, b"public", Pdu(PduType.GET, 1)), r"unsupported SNMP version field 3"),
        (Message(Version.V1, b"public", Pdu(PduType.GET_BULK, 1)), r"GET_BULK is not valid in SNMPv1"),
        (Message(Version.V1, b"public", Pdu(PduType.INFORM, 1)), r"INFORM is not valid in SNMPv1"),
        (Message(Version.V1, b"public", Pdu(PduType.TRAP_V2, 1)), r"TRAP_V2 is not valid in SNMPv1"),
        (Message(Version.V1, b"public", Pdu(PduType.REPORT, 1)), r"REPORT is not valid in SNMPv1"),
        (Message(Version.V2C, b"public", Pdu(0xA9, 1)), r"unknown PDU type"),
        (Message(Version.V2C, b"public", Pdu(PduType.TRAP_V1, 1)), r"unknown PDU type"),
        (Message(Version.V2C, b"public", Pdu(PduType.GET, 2**31)), r"INTEGER 2147483648 outside Integer32"),
        (Message(Version.V2C, b"public", Pdu(PduType.GET, -(2**31) - 1)), r"outside Integer32"),
        (Message(Version.V2C, b"public", Pdu(PduType.RESPONSE, 1, -1, 0)), r"must not be negative"),
        (Message(Version.V2C, b"public", Pdu(PduType.RESPONSE, 1, 0, -1)), r"must not be negative"),
        (Message(Version.V2C, b"public", Pdu(PduType.GET_BULK, 1, 0, 2**31)), r"outside Integer32"),
        (
            Message(Version.V2C, b"public", TrapV1Pdu((1, 3, 6), IpAddress(bytes(4)), 0, 0, TimeTicks(0))),
            r"the v1 Trap-PDU exists only in SNMPv1",
        ),
        (
            Message(Version.V1, b"public", TrapV1Pdu((1, 3, 6), IpAddress(bytes(3)), 0, 0, TimeTicks(0))),
            r"agent-addr must be 4 octets",
        ),
        (
            Message(Version.V1, b"public", TrapV1Pdu((1, 3, 6), IpAddress(bytes(4)), 0, 0, TimeTicks(2**32))),
            r"time-stamp 4294967296 out of range",
        ),
        (
            Message(Version.V1, b"public", TrapV1Pdu((1, 3, 6), IpAddress(bytes(4)), 2**31, 0, TimeTicks(0))),
            r"outside Integer32",
        ),
        (
            Message(Version.V1, b"public", TrapV1Pdu((7,), IpAddress(bytes(4)), 0, 0, TimeTicks(0))),
            r"at least two arcs",
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_unrepresentable_message_raises_snmp_encode_error(msg: Message, match: str) -> None:
    with pytest.raises(SnmpEncodeError, match=match):
        encode_message(msg)


def test_exception_values_and_v2_types_encode() -> None:
    """The values a v2c agent needs all encode; NO_SUCH_* are the one-octet-tag, empty TLVs."""
    assert encode_value(NO_SUCH_OBJECT) == b"\x80\x00"
    assert encode_value(NO_SUCH_INSTANCE) == b"\x81\x00"
    assert encode_value(END_OF_MIB_VIEW) == b"\x82\x00"
    assert encode_value(Counter64(2**64 - 1)) == b"\x46\x09\x00" + b"\xff" * 8
    assert encode_value(Opaque(b"")) == b"\x44\x00"
    assert encode_value(None) == b"\x05\x00"
