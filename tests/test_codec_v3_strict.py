"""Strictness of the SNMPv3 message codec and of opening an answer (codec_v3.py, usm_manager.py), case by case.

Hand-written malformed messages, built here from raw TLVs (not with the codec under test), each of
which must raise ``SnmpDecodeError`` with a message that names the defect (never decode's generic
"malformed message: ..." wrapper): wrong msgVersion, msgMaxSize < 484, msgFlags of 0 or 2 octets,
privacy without authentication, security models other than USM, engine IDs and user names longer
than 32 octets, out-of-range integers, trailing octets at every level, the wrong choice of msgData
for the flags, parameters an unauthenticated message must not carry; a plaintext scopedPDU followed
by anything is refused, a decrypted one may carry up to one DES block of padding (8 octets: pysnmp
pads a whole block, see test_codec_v3_differential.py) and no more. The valid boundaries decode.

Then, over valid plain, authNoPriv and authPriv messages: every truncation (plain and re-framed so
every outer length agrees) and every single-octet replacement makes decode_v3_message /
decode_scoped_pdu / UsmManager.open succeed or raise only SnmpDecodeError / Unauthentic; a changed
authenticated message never opens; 64 KiB datagrams claiming gigabytes allocate nothing in
proportion to the claim, and nothing takes more than 50 ms. Besides: the time window of authenticated answers
(RFC 3414 3.2 step 7b) and the encoder's refusals.

``STADTNETZ_LONG_TESTS=1`` runs the octet replacements for every authentication x privacy combination
as well.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from collectors.snmp.codec import PduType, SnmpDecodeError, SnmpEncodeError, encode_request_pdu
from collectors.snmp.codec_v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    V3Message,
    decode_scoped_pdu,
    decode_v3_message,
    encode_scoped_pdu,
    encode_v3_message,
    is_v3,
)
from collectors.snmp.usm import LocalizedKeys, SaltCounter, UsmUser
from collectors.snmp.usm_manager import Engine, Unauthentic, UsmManager
from tests.support.pysnmp_v3 import COMBINATIONS, user_for
from tests.test_codec_fuzz import peak_allocation
from tests.test_codec_strict import PDU_HEAD, SYS_DESCR, integer, pdu, reframed_prefix, tlv, varbind

LONG = os.environ.get("STADTNETZ_LONG_TESTS") == "1"
MAX_CASE_SECONDS = 0.050
ENGINE = bytes.fromhex("80001f8880e9630000d61ff449")
ADDRESS = ("127.0.0.1", 161)

# --------------------------------------------------------------------------- raw v3 builders

GET = pdu(varbind(b"\x05\x00"), tag=PduType.GET)
RESPONSE = pdu(varbind(tlv(0x04, b"Linux core-1")))


def scoped(context_engine: bytes = tlv(0x04, ENGINE), context_name: bytes = tlv(0x04, b""), pdu_tlv: bytes = RESPONSE,
           extra: bytes = b"") -> bytes:  # fmt: skip
    return tlv(0x30, context_engine + context_name + pdu_tlv + extra)


def header(msg_id: bytes = integer(77), max_size: bytes = integer(65507), flags: bytes = tlv(0x04, b"\x04"),
           model: bytes = integer(3), extra: bytes = b"") -> bytes:  # fmt: skip
    return tlv(0x30, msg_id + max_size + flags + model + extra)


def usm(engine: bytes = tlv(0x04, ENGINE), boots: bytes = integer(5), engine_time: bytes = integer(1234),
        user: bytes = tlv(0x04, b"noc"), auth: bytes = tlv(0x04, b""), privacy: bytes = tlv(0x04, b""),
        extra: bytes = b"", after: bytes = b"") -> bytes:  # fmt: skip
    """msgSecurityParameters: an OCTET STRING around UsmSecurityParameters (``after`` follows the SEQUENCE)."""
    return tlv(0x04, tlv(0x30, engine + boots + engine_time + user + auth + privacy + extra) + after)


def v3(global_data: bytes | None = None, security: bytes | None = None, data: bytes | None = None,
       version: bytes = integer(3), extra: bytes = b"") -> bytes:  # fmt: skip
    return tlv(
        0x30,
        version
        + (header() if global_data is None else global_data)
        + (usm() if security is None else security)
        + (scoped() if data is None else data)
        + extra,
    )


def authenticated(flags: int = 0x05, data: bytes | None = None) -> bytes:
    """A message that claims authentication (12 octets of zeros as its digest: it decodes, but does not open)."""
    return v3(header(flags=tlv(0x04, bytes((flags,)))), usm(auth=tlv(0x04, bytes(12))), data)


def test_builders_make_valid_messages() -> None:
    """The baselines decode, so each malformed case below fails for its one defect only."""
    plain = decode_v3_message(v3())
    assert (plain.msg_id, plain.max_size, plain.flags, plain.engine_id) == (77, 65507, 4, ENGINE)
    assert (plain.engine_boots, plain.engine_time, plain.user_name) == (5, 1234, b"noc")
    assert decode_scoped_pdu(plain.data).pdu.varbinds == [((1, 3, 6, 1, 2, 1, 1, 1, 0), b"Linux core-1")]
    assert decode_v3_message(authenticated()).auth_parameters == bytes(12)
    encrypted = decode_v3_message(authenticated(0x07, tlv(0x04, bytes(16))))
    assert encrypted.private and encrypted.data == bytes(16)
    assert is_v3(v3())


# --------------------------------------------------------------------------- malformed messages

VALID = v3()
MALFORMED: list[tuple[str, bytes, str]] = [
    # framing
    ("empty input", b"", r"truncated SNMPv3Message"),
    ("not a SEQUENCE", b"\x31" + VALID[1:], r"SNMPv3Message: expected tag 0x30, got 0x31"),
    ("indefinite length", b"\x30\x80" + VALID[2:] + b"\x00\x00", r"indefinite length is not allowed"),
    ("one trailing octet", VALID + b"\x00", r"1 trailing octets after the Message"),
    ("a second message after the first", VALID + VALID, rf"{len(VALID)} trailing octets"),
    ("length past the datagram", b"\x30\x84\x7f\xff\xff\xff" + VALID[2:], r"runs past its container"),
    # msgVersion
    ("SNMPv2c version 1", v3(version=integer(1)), r"msgVersion 1 is not SNMPv3"),
    ("SNMPv1 version 0", v3(version=integer(0)), r"msgVersion 0 is not SNMPv3"),
    ("SNMPv2u version 2", v3(version=integer(2)), r"msgVersion 2 is not SNMPv3"),
    ("version 4", v3(version=integer(4)), r"msgVersion 4 is not SNMPv3"),
    ("version 259", v3(version=integer(259)), r"msgVersion 259 is not SNMPv3"),
    ("version as OCTET STRING", v3(version=tlv(0x04, b"\x03")), r"msgVersion: expected tag 0x02"),
    # msgGlobalData
    ("no msgGlobalData", tlv(0x30, integer(3)), r"truncated msgGlobalData"),
    ("msgGlobalData is a SET", v3(b"\x31" + header()[1:]), r"msgGlobalData: expected tag 0x30"),
    ("msgID -1", v3(header(msg_id=integer(-1))), r"msgID -1 outside 0\.\.2147483647"),
    ("msgID -2**31", v3(header(msg_id=integer(-(2**31)))), r"msgID -2147483648 outside"),
    ("msgID 2**31", v3(header(msg_id=integer(2**31))), r"msgID: INTEGER 2147483648 outside Integer32"),
    ("msgMaxSize 483", v3(header(max_size=integer(483))), r"msgMaxSize 483 outside 484\.\.2147483647"),
    ("msgMaxSize 0", v3(header(max_size=integer(0))), r"msgMaxSize 0 outside"),
    ("msgMaxSize -65507", v3(header(max_size=integer(-65507))), r"msgMaxSize -65507 outside"),
    ("msgFlags of 2 octets", v3(header(flags=tlv(0x04, b"\x04\x00"))), r"msgFlags of 2 octets, not 1"),
    ("msgFlags of 0 octets", v3(header(flags=tlv(0x04, b""))), r"msgFlags of 0 octets, not 1"),
    ("msgFlags as INTEGER", v3(header(flags=integer(4))), r"msgFlags: expected tag 0x04"),
    ("privacy without authentication", v3(header(flags=tlv(0x04, b"\x02"))), r"privacy without authentication"),
    ("reportable privacy without auth", v3(header(flags=tlv(0x04, b"\x06"))), r"privacy without authentication"),
    ("security model 2 (SNMPv2c)", v3(header(model=integer(2))), r"msgSecurityModel 2 is not USM \(3\)"),
    ("security model 1 (SNMPv1)", v3(header(model=integer(1))), r"msgSecurityModel 1 is not USM"),
    ("security model 0 (any)", v3(header(model=integer(0))), r"msgSecurityModel 0 is not USM"),
    ("security model 4 (TSM)", v3(header(model=integer(4))), r"msgSecurityModel 4 is not USM"),
    ("no security model", v3(tlv(0x30, integer(77) + integer(65507) + tlv(0x04, b"\x04"))), r"msgSecurityModel"),
    ("octets after the security model", v3(header(extra=integer(0))), r"octets after msgSecurityModel"),
    # msgSecurityParameters / UsmSecurityParameters
    ("no msgSecurityParameters", tlv(0x30, integer(3) + header()), r"truncated msgSecurityParameters"),
    ("security parameters not wrapped", v3(security=usm()[2:]), r"msgSecurityParameters: expected tag 0x04"),
    ("USM parameters a SET", v3(security=tlv(0x04, b"\x31" + usm()[3:])), r"UsmSecurityParameters: expected"),
    ("octets after the USM parameters", v3(security=usm(after=b"\x05\x00")), r"octets after UsmSecurityParameters"),
    ("engine ID of 33 octets", v3(security=usm(engine=tlv(0x04, bytes(range(33))))),
     r"msgAuthoritativeEngineID of 33 octets \(at most 32\)"),
    ("engine ID of 255 octets", v3(security=usm(engine=tlv(0x04, b"\x80" * 255))), r"EngineID of 255 octets"),
    ("engine ID as INTEGER", v3(security=usm(engine=integer(5))), r"msgAuthoritativeEngineID: expected tag 0x04"),
    ("engine boots -1", v3(security=usm(boots=integer(-1))), r"msgAuthoritativeEngineBoots -1 outside"),
    ("engine boots 2**31", v3(security=usm(boots=integer(2**31))), r"msgAuthoritativeEngineBoots: INTEGER"),
    ("engine time -1", v3(security=usm(engine_time=integer(-1))), r"msgAuthoritativeEngineTime -1 outside"),
    ("engine time of 0 octets", v3(security=usm(engine_time=b"\x02\x00")), r"EngineTime: INTEGER of 0 octets"),
    ("user name of 33 octets", v3(security=usm(user=tlv(0x04, b"u" * 33))), r"msgUserName of 33 octets"),
    ("no user name", v3(security=tlv(0x04, tlv(0x30, tlv(0x04, ENGINE) + integer(5) + integer(1234)))),
     r"truncated msgUserName"),
    ("authentication parameters of 65 octets", v3(header(flags=tlv(0x04, b"\x05")), usm(auth=tlv(0x04, bytes(65)))),
     r"msgAuthenticationParameters of 65 octets"),
    ("privacy parameters of 65 octets", v3(header(flags=tlv(0x04, b"\x07")),
                                          usm(auth=tlv(0x04, bytes(12)), privacy=tlv(0x04, bytes(65))),
                                          tlv(0x04, bytes(16))), r"msgPrivacyParameters of 65 octets"),
    ("no privacy parameters", v3(security=tlv(0x04, tlv(0x30, tlv(0x04, ENGINE) + integer(5) + integer(1)
                                                       + tlv(0x04, b"noc") + tlv(0x04, b"")))),
     r"truncated msgPrivacyParameters"),
    ("octets after the privacy parameters", v3(security=usm(extra=tlv(0x04, b""))), r"octets after msgPrivacyParam"),
    ("engine ID past the USM parameters", v3(security=tlv(0x04, tlv(0x30, b"\x04\x40" + ENGINE))),
     r"msgAuthoritativeEngineID: length 64 runs past"),
    ("authentication parameters in a noAuth message", v3(security=usm(auth=tlv(0x04, bytes(12)))),
     r"authentication or privacy parameters in an unauthenticated message"),
    ("privacy parameters in a noAuth message", v3(security=usm(privacy=tlv(0x04, bytes(8)))),
     r"authentication or privacy parameters in an unauthenticated message"),
    # msgData
    ("no msgData", tlv(0x30, integer(3) + header() + usm()), r"Message without msgData"),
    ("plaintext scopedPDU with the privacy flag", authenticated(0x07), r"encryptedPDU: expected tag 0x04"),
    ("encryptedPDU without the privacy flag", v3(data=tlv(0x04, bytes(16))), r"ScopedPDU: expected tag 0x30"),
    ("encryptedPDU with only authentication", authenticated(0x05, tlv(0x04, bytes(16))), r"ScopedPDU: expected"),
    ("octets after msgData", v3(extra=b"\x05\x00"), r"octets after msgData"),
    ("padding after a plaintext scopedPDU", v3(extra=bytes(3)), r"octets after msgData"),
    ("scopedPDU past the message", v3(data=b"\x30\x7f" + scoped()[2:]), r"ScopedPDU: length 127 runs past"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "match"), [pytest.param(d, m, id=name) for name, d, m in MALFORMED])
def test_malformed_message_raises_a_specific_snmp_decode_error(data: bytes, match: str) -> None:
    with pytest.raises(SnmpDecodeError, match=match) as caught:
        decode_v3_message(data)
    assert not str(caught.value).startswith("malformed message"), str(caught.value)


def test_malformed_case_names_are_unique() -> None:
    names = [name for name, _, _ in MALFORMED]
    assert len(names) == len(set(names))


MALFORMED_SCOPED: list[tuple[str, bytes, str]] = [
    ("empty", b"", r"truncated ScopedPDU"),
    ("not a SEQUENCE", b"\x31" + scoped()[1:], r"ScopedPDU: expected tag 0x30"),
    ("context engine ID of 33 octets", scoped(tlv(0x04, bytes(33))), r"contextEngineID of 33 octets"),
    ("context engine ID as INTEGER", scoped(integer(1)), r"contextEngineID: expected tag 0x04"),
    ("no context name", tlv(0x30, tlv(0x04, ENGINE)), r"truncated contextName"),
    ("context name as OID", scoped(context_name=tlv(0x06, b"\x2b")), r"contextName: expected tag 0x04"),
    ("no PDU", tlv(0x30, tlv(0x04, ENGINE) + tlv(0x04, b"")), r"no PDU"),
    ("unknown PDU tag 0xa9", scoped(pdu_tlv=pdu(tag=0xA9)), r"unknown PDU type 0xa9"),
    ("a v2c message as the PDU", scoped(pdu_tlv=tlv(0x30, integer(1) + tlv(0x04, b"public") + RESPONSE)),
     r"unknown PDU type 0x30"),
    ("v1 Trap-PDU", scoped(pdu_tlv=tlv(0xA4, tlv(0x06, b"\x2b\x06") + tlv(0x40, bytes(4)) + integer(6) + integer(1)
                                       + integer(5, 0x43) + tlv(0x30, b""))), r"v1 Trap-PDU in an SNMPv3 message"),
    ("octets after the PDU", scoped(extra=b"\x05\x00"), r"octets after the PDU"),
    ("PDU past the scopedPDU", tlv(0x30, tlv(0x04, ENGINE) + tlv(0x04, b"") + b"\xa2\x40" + PDU_HEAD),
     r"PDU: length 64 runs past"),
    ("bad varbind inside", scoped(pdu_tlv=pdu(tlv(0x30, SYS_DESCR + b"\x02\x00"))), r"INTEGER of 0 octets"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "match"), [pytest.param(d, m, id=name) for name, d, m in MALFORMED_SCOPED])
@pytest.mark.parametrize("decrypted", [False, True], ids=["plaintext", "decrypted"])
def test_malformed_scoped_pdu_raises_a_specific_snmp_decode_error(data: bytes, match: str, decrypted: bool) -> None:
    with pytest.raises(SnmpDecodeError, match=match) as caught:
        decode_scoped_pdu(data, decrypted=decrypted)
    assert not str(caught.value).startswith("malformed message"), str(caught.value)


@pytest.mark.parametrize("padding", range(1, 20))
def test_padding_only_after_a_decrypted_scoped_pdu_and_at_most_one_des_block(padding: int) -> None:
    data = scoped() + bytes(padding)
    with pytest.raises(SnmpDecodeError, match=rf"{padding} octets after the ScopedPDU"):
        decode_scoped_pdu(data)
    if padding <= 8:
        assert decode_scoped_pdu(data, decrypted=True).pdu.varbinds[0][1] == b"Linux core-1"
        assert decode_scoped_pdu(scoped() + b"\xff" * padding, decrypted=True).context_engine_id == ENGINE
    else:
        with pytest.raises(SnmpDecodeError, match=rf"{padding} octets after the ScopedPDU"):
            decode_scoped_pdu(data, decrypted=True)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(v3(header(max_size=integer(484))), id="msgMaxSize 484"),
        pytest.param(v3(header(max_size=integer(2**31 - 1))), id="msgMaxSize 2**31-1"),
        pytest.param(v3(header(msg_id=integer(0))), id="msgID 0"),
        pytest.param(v3(header(msg_id=integer(2**31 - 1))), id="msgID 2**31-1"),
        pytest.param(v3(security=usm(engine=tlv(0x04, bytes(range(32))))), id="engine ID of 32 octets"),
        pytest.param(v3(security=usm(engine=tlv(0x04, b""))), id="empty engine ID (discovery)"),
        pytest.param(v3(security=usm(user=tlv(0x04, b"u" * 32))), id="user name of 32 octets"),
        pytest.param(v3(security=usm(user=tlv(0x04, b""))), id="empty user name (discovery)"),
        pytest.param(v3(security=usm(boots=integer(2**31 - 1), engine_time=integer(2**31 - 1))), id="boots/time max"),
        pytest.param(v3(security=usm(boots=integer(0), engine_time=integer(0))), id="boots and time 0"),
        pytest.param(v3(header(flags=tlv(0x04, b"\x00"))), id="flags 0 (not reportable)"),
        pytest.param(authenticated(0x01), id="flags auth"),
        pytest.param(authenticated(0x07, tlv(0x04, bytes(8))), id="flags authPriv"),
        pytest.param(b"\x30\x81" + v3()[1:], id="non-minimal message length"),
        pytest.param(v3(header(msg_id=b"\x02\x02\x00\x4d")), id="non-minimal msgID"),
        pytest.param(v3(data=scoped(context_name=tlv(0x04, b"vrf-blue" * 100))), id="long context name"),
    ],
)
def test_valid_boundaries_decode(data: bytes) -> None:
    message = decode_v3_message(data)
    assert is_v3(data)
    if not message.private:
        decode_scoped_pdu(message.data)


def test_is_v3_tells_the_versions_apart() -> None:
    assert is_v3(v3()) and is_v3(b"\x30\x82" + len(v3()[2:]).to_bytes(2, "big") + v3()[2:])
    assert not is_v3(tlv(0x30, integer(1) + tlv(0x04, b"public") + RESPONSE))
    assert not is_v3(tlv(0x30, integer(0) + tlv(0x04, b"public") + RESPONSE))
    assert not is_v3(b"") and not is_v3(b"\x30\x03\x02\x01") and not is_v3(b"\x31" + v3()[1:])


# --------------------------------------------------------------------------- valid messages under attack


def _manager(salt: int = 0x5EED) -> UsmManager:
    manager = UsmManager(clock=lambda: 100.0)
    manager._salt = SaltCounter(lambda n: salt.to_bytes(n, "big"))
    manager.engines[ADDRESS] = Engine(ENGINE, 5, 1234, 100.0)
    return manager


def _request(user: UsmUser, oids: int = 3) -> bytes:
    names = [(1, 3, 6, 1, 2, 1, 2, 2, 1, 10, index) for index in range(1, oids + 1)]
    return _manager().request(ADDRESS, user, b"", 42, encode_request_pdu(PduType.GET_NEXT, 7, names))


USERS = {
    "noAuthNoPriv": UsmUser(b"watch"),
    "authNoPriv md5": UsmUser(b"noc", "md5", b"authpass-4711"),
    "authPriv sha/aes": UsmUser(b"noc", "sha", b"authpass-4711", "aes", b"privpass-0815"),
    "authPriv sha512/des": UsmUser(b"noc", "sha512", b"authpass-4711", "des", b"privpass-0815"),
    "authPriv sha256/aes256c": UsmUser(b"noc", "sha256", b"authpass-4711", "aes256c", b"privpass-0815"),
}


def _open(data: bytes, user: UsmUser) -> str:
    """'rejected', 'unauthentic' or 'opened'; anything but SnmpDecodeError/Unauthentic fails with the input."""
    try:
        message = decode_v3_message(data)
    except SnmpDecodeError as exc:
        assert not str(exc).startswith("malformed message"), f"unchecked input reached {exc}: {data.hex()}"
        return "rejected"
    except Exception as exc:
        raise AssertionError(f"decode_v3_message raised {exc!r} for {data.hex()}") from exc
    try:
        UsmManager().open(message, data, user)
    except Unauthentic:
        return "unauthentic"
    except SnmpDecodeError as exc:
        assert not str(exc).startswith("malformed message"), f"unchecked input reached {exc}: {data.hex()}"
        return "rejected"
    except Exception as exc:
        raise AssertionError(f"UsmManager.open raised {exc!r} for {data.hex()}") from exc
    return "opened"


def _timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


@pytest.mark.parametrize("name", sorted(USERS))
def test_truncated_at_every_octet(name: str) -> None:
    """Every proper prefix is rejected; a re-framed prefix (every outer length rewritten to end at the cut)
    is rejected, or for an unauthenticated message accepted as the shorter message it is, never opened
    when authenticated."""
    user = USERS[name]
    data = _request(user)
    assert _open(data, user) == "opened"
    outcomes: dict[str, int] = {}
    for cut in range(len(data)):
        with pytest.raises(SnmpDecodeError) as caught:
            decode_v3_message(data[:cut])
        assert not str(caught.value).startswith("malformed message"), (cut, str(caught.value))
        outcome = _open(reframed_prefix(data, cut), user)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if user.authenticated:
            assert outcome != "opened", f"a truncated authenticated message opened at {cut}"
    if not user.authenticated:
        assert outcomes.get("opened", 0) == 3  # the cuts between the varbinds (and before the first)
    print(f"\n{name}: {len(data)} cuts: {outcomes}")


MUTATED_USERS = USERS | ({f"{auth}/{priv}": user_for(auth, priv) for auth, priv in COMBINATIONS} if LONG else {})


@pytest.mark.parametrize("name", sorted(MUTATED_USERS))
def test_every_single_octet_replacement(name: str) -> None:
    """Every octet set to each of the 255 other values: only SnmpDecodeError or Unauthentic; an authenticated
    message with any octet changed never opens (the digest covers every octet, the flags too); each case
    within 50 ms."""
    user = MUTATED_USERS[name]
    data = _request(user, oids=2)
    outcomes: dict[str, int] = {}
    slowest = 0.0
    for position in range(len(data)):
        for value in (v for v in range(256) if v != data[position]):
            mutated = data[:position] + bytes((value,)) + data[position + 1 :]
            start = time.perf_counter()
            outcome = _open(mutated, user)
            seconds = time.perf_counter() - start
            if seconds > MAX_CASE_SECONDS:  # the scheduler, or the code? the fastest of five decides
                seconds = min(_timed(lambda m=mutated: _open(m, user)) for _ in range(5))
                assert seconds <= MAX_CASE_SECONDS, f"{seconds * 1e3:.1f} ms for {mutated.hex()}"
            slowest = max(slowest, seconds)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if user.authenticated:
                assert outcome != "opened", f"octet {position} set to {value:#04x} and the message still opened"
    print(f"\n{name}: {sum(outcomes.values())} mutations: {outcomes}, slowest {slowest * 1e3:.2f} ms")
    assert outcomes.get("rejected", 0) > 0
    if user.authenticated:
        assert outcomes.get("unauthentic", 0) > 0  # some mutations decode and fail only the digest


def test_a_decrypted_scoped_pdu_with_one_des_block_of_padding_opens_and_not_more() -> None:
    """Sign and encrypt (AES: a stream, so the padding is exactly what we append) a scopedPDU followed by
    n octets: up to 8 open (pysnmp's whole block of DES padding), 9 are undecryptable."""
    user = USERS["authPriv sha/aes"]
    keys = LocalizedKeys.for_engine(user, ENGINE)
    for padding in range(0, 12):
        ciphertext, privacy = keys.encrypt(scoped() + b"\x08" * padding, 5, 1234, padding)
        message, offset = encode_v3_message(
            9, 65507, FLAG_AUTH | FLAG_PRIV, ENGINE, 5, 1234, user.name, keys.mac_length, privacy, ciphertext
        )
        signed = message[:offset] + keys.sign(message) + message[offset + keys.mac_length :]
        if padding <= 8:
            assert UsmManager().open(decode_v3_message(signed), signed, user).pdu.request_id == 1
        else:
            with pytest.raises(Unauthentic, match=rf"cannot decrypt: {padding} octets after the ScopedPDU"):
                UsmManager().open(decode_v3_message(signed), signed, user)


def test_an_unauthenticated_answer_does_not_open_for_a_user_with_authentication() -> None:
    """open() returns what a noAuth answer says (Reports are unauthenticated by nature); the client compares
    the flags of a Response with the user's level. The flags byte is under the digest otherwise."""
    user = USERS["authPriv sha/aes"]
    plain = v3()
    opened = UsmManager().open(decode_v3_message(plain), plain, user)
    assert opened.pdu.type == PduType.RESPONSE  # the level check is the client's (client.py, flags vs user)
    signed = _request(user)
    message = decode_v3_message(signed)
    assert message.flags == FLAG_AUTH | FLAG_PRIV | FLAG_REPORTABLE
    # clearing the auth flag alone makes a message that claims a digest without authentication: refused
    with pytest.raises(SnmpDecodeError):
        flags_at = signed.index(b"\x04\x01\x07") + 2
        decode_v3_message(signed[:flags_at] + b"\x04" + signed[flags_at + 1 :])


# --------------------------------------------------------------------------- the time window (RFC 3414 3.2 step 7b)


def _answer_at(boots: int, engine_time: int, engine_id: bytes = ENGINE) -> V3Message:
    data = v3(header(flags=tlv(0x04, b"\x01")), usm(tlv(0x04, engine_id), integer(boots), integer(engine_time),
                                                     auth=tlv(0x04, bytes(12))))  # fmt: skip
    return decode_v3_message(data)


def test_authenticated_answers_outside_the_time_window_are_refused_and_newer_ones_move_the_estimate() -> None:
    clock = [1000.0]
    manager = UsmManager(clock=lambda: clock[0])
    manager.engines[ADDRESS] = engine = Engine(ENGINE, 5, 1000, 1000.0)
    clock[0] = 1100.0  # our estimate of the agent's time is now 1100
    manager.check_time(ADDRESS, _answer_at(5, 950))  # 150 s behind: still inside
    assert (engine.boots, engine.engine_time, engine.synced_at) == (5, 1000, 1000.0)  # and it moves nothing
    with pytest.raises(Unauthentic, match="outside the time window"):
        manager.check_time(ADDRESS, _answer_at(5, 949))  # a replay from more than 150 s ago
    with pytest.raises(Unauthentic, match="outside the time window"):
        manager.check_time(ADDRESS, _answer_at(4, 10**6))  # an earlier boot, whatever its time
    manager.check_time(ADDRESS, _answer_at(5, 2000))  # the agent's clock is ahead of our estimate: take it
    assert (engine.boots, engine.engine_time, engine.synced_at) == (5, 2000, 1100.0)
    manager.check_time(ADDRESS, _answer_at(6, 3))  # it rebooted
    assert (engine.boots, engine.engine_time) == (6, 3)
    with pytest.raises(Unauthentic, match="outside the time window"):
        manager.check_time(ADDRESS, _answer_at(5, 2100))  # the boot before that, newer time or not
    with pytest.raises(Unauthentic, match="engine boots at its maximum"):
        manager.check_time(ADDRESS, _answer_at(2**31 - 1, 0))  # RFC 3414 2.2.2: a latched engine
    other = bytes.fromhex("800000090300aabbccddeeff")
    manager.check_time(ADDRESS, _answer_at(1, 1, other))  # another engine at that address: learnt afresh
    assert manager.engines[ADDRESS].engine_id == other and manager.engines[ADDRESS].boots == 1


# --------------------------------------------------------------------------- memory and time

FILL = bytes(65000)
HUGE = b"\x84\xff\xff\xff\xff"  # a 4 GiB length


def _claim(tag: int) -> bytes:
    return bytes((tag,)) + HUGE


def _huge_usm(field: int) -> bytes:
    """UsmSecurityParameters whose ``field``-th element claims 4 GiB, inside a consistent 64 KiB frame."""
    parts = [tlv(0x04, ENGINE), integer(5), integer(1234), tlv(0x04, b"noc"), tlv(0x04, b""), tlv(0x04, b"")]
    tags = [0x04, 0x02, 0x02, 0x04, 0x04, 0x04]
    inner = b"".join(parts[:field]) + _claim(tags[field]) + FILL
    return v3(security=tlv(0x04, tlv(0x30, inner)), data=b"")


HUGE_LENGTH_CLAIMS: dict[str, tuple[bytes, str]] = {
    "message claims 4 GiB": (b"\x30" + HUGE + integer(3) + FILL, r"SNMPv3Message: length 4294967295 runs past"),
    "msgGlobalData claims 4 GiB": (tlv(0x30, integer(3) + _claim(0x30) + FILL), r"msgGlobalData: length 4294967295"),
    "msgID claims 4 GiB": (tlv(0x30, integer(3) + tlv(0x30, _claim(0x02) + FILL)), r"msgID: length 4294967295"),
    "msgFlags claims 4 GiB": (
        tlv(0x30, integer(3) + tlv(0x30, integer(1) + integer(484) + _claim(0x04) + FILL)),
        r"msgFlags: length 4294967295",
    ),
    "msgSecurityParameters claims 4 GiB": (
        tlv(0x30, integer(3) + header() + _claim(0x04) + FILL),
        r"msgSecurityParameters: length 4294967295",
    ),
    "UsmSecurityParameters claims 4 GiB": (
        v3(security=tlv(0x04, _claim(0x30) + FILL), data=b""),
        r"UsmSecurityParameters: length 4294967295",
    ),
    "engine ID claims 4 GiB": (_huge_usm(0), r"msgAuthoritativeEngineID: length 4294967295"),
    "engine boots claims 4 GiB": (_huge_usm(1), r"msgAuthoritativeEngineBoots: length 4294967295"),
    "user name claims 4 GiB": (_huge_usm(3), r"msgUserName: length 4294967295"),
    "authentication parameters claim 4 GiB": (_huge_usm(4), r"msgAuthenticationParameters: length 4294967295"),
    "privacy parameters claim 4 GiB": (_huge_usm(5), r"msgPrivacyParameters: length 4294967295"),
    "scopedPDU claims 4 GiB": (tlv(0x30, integer(3) + header() + usm() + _claim(0x30) + FILL), r"ScopedPDU: length"),
    "encryptedPDU claims 4 GiB": (
        tlv(0x30, integer(3) + header(flags=tlv(0x04, b"\x07")) + usm(auth=tlv(0x04, bytes(12))) + _claim(0x04) + FILL),
        r"encryptedPDU: length 4294967295",
    ),
    "contextEngineID claims 4 GiB": (v3(data=tlv(0x30, _claim(0x04) + FILL)), r"contextEngineID: length 4294967295"),
    "PDU claims 4 GiB": (
        v3(data=tlv(0x30, tlv(0x04, ENGINE) + tlv(0x04, b"") + _claim(0xA2) + FILL)),
        r"PDU: length 4294967295",
    ),
    "64 KiB engine ID": (v3(security=usm(engine=tlv(0x04, FILL)), data=b""), r"EngineID of 65000 octets"),
    "64 KiB trailing garbage": (v3() + FILL, r"65000 trailing octets"),
}


@pytest.mark.parametrize("name", sorted(HUGE_LENGTH_CLAIMS))
def test_huge_length_claims_allocate_nothing_in_proportion(name: str) -> None:
    data, match = HUGE_LENGTH_CLAIMS[name]
    assert 65000 <= len(data) <= 65536

    def reject() -> None:
        with pytest.raises(SnmpDecodeError, match=match):
            decode_scoped_pdu(decode_v3_message(data).data)  # the scopedPDU's insides are decode_scoped_pdu's

    peak = peak_allocation(reject)
    assert peak <= len(data) + 8192, f"{name}: peak allocation {peak} octets for a {len(data)}-octet input"
    assert min(_timed(reject) for _ in range(3)) <= MAX_CASE_SECONDS


def _big_answer(user: UsmUser, claim: bytes = b"") -> bytes:
    """A signed (and for a private user encrypted) 64 KiB answer: one 63 KiB string, or a scopedPDU that
    claims 4 GiB when ``claim`` is given."""
    keys = LocalizedKeys.for_engine(user, ENGINE)
    plain = claim + FILL[:60000] if claim else scoped(pdu_tlv=pdu(varbind(tlv(0x04, FILL[:63000]))))
    flags, privacy = FLAG_AUTH, b""
    if user.private:
        plain, privacy = keys.encrypt(plain, 5, 1234, 1)
        flags |= FLAG_PRIV
    message, offset = encode_v3_message(77, 65507, flags, ENGINE, 5, 1234, user.name, keys.mac_length, privacy, plain)
    return message[:offset] + keys.sign(message) + message[offset + keys.mac_length :]


@pytest.mark.parametrize("name", [n for n in sorted(USERS) if n != "noAuthNoPriv"])
def test_opening_a_64_kib_answer_costs_a_few_copies_of_it_and_little_time(name: str) -> None:
    """Checking the digest copies the message once (its authentication parameters zeroed), decrypting makes
    the plaintext: a bounded multiple of the datagram, whatever the answer claims, and fast."""
    user = USERS[name]
    for claim in (b"", b"\x30" + HUGE) if user.private else (b"",):  # a plaintext claim fails decoding (above)
        data = _big_answer(user, claim)
        assert len(data) > 60000
        message = decode_v3_message(data)
        manager = UsmManager()
        manager.keys(user, ENGINE)  # the keys are computed once per engine, not per answer: not measured here

        def open_it(m: V3Message = message, d: bytes = data, usm: UsmManager = manager, c: bytes = claim) -> None:
            try:
                usm.open(m, d, user)
            except Unauthentic:
                assert c, "the unclaimed answer must open"

        peak = peak_allocation(open_it)
        assert peak <= 4 * len(data) + 16384, f"peak allocation {peak} octets for a {len(data)}-octet answer"
        assert min(_timed(open_it) for _ in range(3)) <= MAX_CASE_SECONDS
        forged = data[:-1] + bytes((data[-1] ^ 1,))
        with pytest.raises(Unauthentic, match="wrong digest"):
            manager.open(decode_v3_message(forged), forged, user)


# --------------------------------------------------------------------------- the encoder's refusals


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        pytest.param({"flags": 8}, r"invalid msgFlags 8", id="flags 8"),
        pytest.param({"flags": -1}, r"invalid msgFlags -1", id="flags -1"),
        pytest.param({"flags": FLAG_PRIV}, r"invalid msgFlags 2", id="privacy without authentication"),
        pytest.param({"max_size": 483}, r"msgMaxSize 483 below 484", id="msgMaxSize 483"),
        pytest.param({"engine_id": bytes(33)}, r"longer than 32 octets", id="engine ID of 33 octets"),
        pytest.param({"user_name": b"u" * 33}, r"longer than 32 octets", id="user name of 33 octets"),
        pytest.param({"engine_boots": -1}, r"msgAuthoritativeEngineBoots -1 outside", id="boots -1"),
        pytest.param({"engine_time": 2**31}, r"msgAuthoritativeEngineTime 2147483648 outside", id="time 2**31"),
        pytest.param({"msg_id": True}, r"msgID True outside", id="msgID True"),
        pytest.param({"msg_id": 2**31}, r"msgID 2147483648 outside", id="msgID 2**31"),
        pytest.param({"auth_length": 128}, r"authentication parameters of 128 octets", id="digest of 128 octets"),
    ],
)
def test_unrepresentable_message_raises_snmp_encode_error(arguments: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {
        "msg_id": 1, "max_size": 65507, "flags": FLAG_REPORTABLE, "engine_id": ENGINE, "engine_boots": 1,
        "engine_time": 2, "user_name": b"noc", "auth_length": 0, "privacy_parameters": b"", "data": scoped(),
    }  # fmt: skip
    fields.update(arguments)
    with pytest.raises(SnmpEncodeError, match=match):
        encode_v3_message(**fields)  # type: ignore[arg-type]


def test_scoped_pdu_with_a_long_context_engine_id_is_refused() -> None:
    with pytest.raises(SnmpEncodeError, match=r"contextEngineID of 33 octets"):
        encode_scoped_pdu(bytes(33), b"", RESPONSE)
    assert decode_scoped_pdu(encode_scoped_pdu(bytes(32), b"ctx", RESPONSE)).context_name == b"ctx"


def test_the_encoder_reports_where_the_digest_goes_at_every_length_form() -> None:
    """Messages of short, 1-, 2- and 3-octet lengths: the offset always points at the zeroed digest."""
    user = USERS["authPriv sha/aes"]
    keys = LocalizedKeys.for_engine(user, ENGINE)
    for size in (10, 100, 200, 300, 70000):
        data = scoped(pdu_tlv=pdu(varbind(tlv(0x04, b"x" * size))))
        message, offset = encode_v3_message(1, 65507, FLAG_AUTH, ENGINE, 1, 2, b"noc", keys.mac_length, b"", data)
        assert message[offset - 2 : offset + keys.mac_length] == b"\x04\x0c" + bytes(12)
        assert decode_v3_message(message).auth_offset == offset
