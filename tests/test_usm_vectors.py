"""USM key and digest vectors (collectors/snmp/usm.py): published where they exist, pysnmp's where not.

* RFC 3414 A.3.1/A.3.2: password-to-key and key localization for MD5 and SHA-1
  ("maplesyrup", engine 000000000000000000000002), the only published USM key vectors;
* RFC 7860 (HMAC-SHA-2) has none: SHA-224/256/384/512 keys on the same inputs must equal what
  pysnmp's ``localkey``/``hmacsha2`` compute, and the digests RFC 4231's HMAC vectors truncated to
  RFC 7860's lengths (RFC 2202 for MD5 and SHA-1, truncated to 96 bits as RFC 3414 says);
* privacy keys for every authentication protocol: DES and AES-128 (the localized key cut to 16 octets),
  and the two AES-192/256 key extensions, Blumenthal (``aes192``/``aes256``, pysnmp's
  ``USM_PRIV_CFB*_AES_BLUMENTHAL``) and Reeder (``aes192c``/``aes256c``, pysnmp's ``USM_PRIV_CFB*_AES``),
  each equal to pysnmp's.

pysnmp (the reference) computes with its own code: ``hash_passphrase`` walks a 64-octet ring buffer,
ours hashes one megabyte slice, so agreement is not agreement by construction.
"""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from pyasn1.type import univ
from pysnmp.proto.secmod.rfc3414.service import SnmpUSMSecurityModel

from collectors.snmp.usm import (
    AUTH_PROTOCOLS,
    LocalizedKeys,
    UsmUser,
    localize_key,
    localized_privacy_key,
    password_to_key,
)
from tests.support.pysnmp_v3 import PYSNMP_AUTH, PYSNMP_PRIV

RFC_ENGINE = bytes.fromhex("000000000000000000000002")
RFC_PASSPHRASE = b"maplesyrup"

# RFC 3414 A.3.1 (MD5) and A.3.2 (SHA-1): (Ku, Kul for RFC_ENGINE)
RFC3414_VECTORS = {
    "md5": ("9faf3283884e92834ebc9847d8edd963", "526f5eed9fcce26f8964c2930787d82b"),
    "sha": ("9fb5cc0381497b3793528939ff788d5d79145211", "6695febc9288e36282235fc7151f128497b38f3f"),
}

KEY_LENGTH = {"des": 16, "aes": 16, "aes192": 24, "aes256": 32, "aes192c": 24, "aes256c": 32}
HASH_LENGTH = {"md5": 16, "sha": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}
MAC_LENGTH = {"md5": 12, "sha": 12, "sha224": 16, "sha256": 24, "sha384": 32, "sha512": 48}  # RFC 3414, RFC 7860

AUTH = [protocol for protocol in AUTH_PROTOCOLS if protocol != "none"]
ENGINES = [RFC_ENGINE, bytes.fromhex("80001f8880e9630000d61ff449"), bytes(range(1, 33)), b"\x80"]


@cache
def pysnmp_auth_key(auth: str, passphrase: bytes, engine_id: bytes) -> bytes:
    service = SnmpUSMSecurityModel.AUTH_SERVICES[PYSNMP_AUTH[auth]]
    master = service.hash_passphrase(passphrase)
    return bytes(service.localize_key(master, univ.OctetString(engine_id)))


@cache
def pysnmp_priv_key(auth: str, priv: str, passphrase: bytes, engine_id: bytes) -> bytes:
    service = SnmpUSMSecurityModel.PRIV_SERVICES[PYSNMP_PRIV[priv]]
    master = service.hash_passphrase(PYSNMP_AUTH[auth], passphrase)
    return bytes(service.localize_key(PYSNMP_AUTH[auth], master, univ.OctetString(engine_id)))


# --------------------------------------------------------------------------- published vectors


@pytest.mark.parametrize("auth", sorted(RFC3414_VECTORS))
def test_rfc3414_a3_password_to_key_and_localization(auth: str) -> None:
    ku, kul = RFC3414_VECTORS[auth]
    assert password_to_key(auth, RFC_PASSPHRASE).hex() == ku
    assert localize_key(auth, bytes.fromhex(ku), RFC_ENGINE).hex() == kul
    user = UsmUser(b"noc", auth, RFC_PASSPHRASE)
    assert LocalizedKeys.for_engine(user, RFC_ENGINE).auth_key.hex() == kul
    assert pysnmp_auth_key(auth, RFC_PASSPHRASE, RFC_ENGINE).hex() == kul  # the reference agrees too


@pytest.mark.parametrize("auth", ["sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("engine_id", ENGINES, ids=lambda e: e.hex()[:12])
def test_rfc7860_keys_equal_pysnmps(auth: str, engine_id: bytes) -> None:
    service = SnmpUSMSecurityModel.AUTH_SERVICES[PYSNMP_AUTH[auth]]
    ku = password_to_key(auth, RFC_PASSPHRASE)
    assert ku == bytes(service.hash_passphrase(RFC_PASSPHRASE))
    assert len(ku) == HASH_LENGTH[auth]
    kul = LocalizedKeys.for_engine(UsmUser(b"noc", auth, RFC_PASSPHRASE), engine_id).auth_key
    assert kul == pysnmp_auth_key(auth, RFC_PASSPHRASE, engine_id)
    assert kul == hashlib.new(auth, ku + engine_id + ku).digest()


@pytest.mark.parametrize("passphrase", [b"12345678", b"x" * 63, b"y" * 64, b"z" * 65, bytes(range(256)) * 5])
def test_password_to_key_at_ring_buffer_edges_equals_pysnmps(passphrase: bytes) -> None:
    """Passphrases around pysnmp's 64-octet ring buffer and longer than it (RFC 3414 A.2: repeat to 1 MB)."""
    for auth in AUTH:
        assert password_to_key(auth, passphrase) == bytes(
            SnmpUSMSecurityModel.AUTH_SERVICES[PYSNMP_AUTH[auth]].hash_passphrase(passphrase)
        ), auth


# RFC 2202 (MD5, SHA-1) and RFC 4231 (SHA-2) test case 1: key 0x0b * n, data "Hi There"
HMAC_CASE_1 = {
    "md5": (16, "9294727a3638bb1c13f48ef8158bfc9d"),
    "sha": (20, "b617318655057264e28bc0b6fb378c8ef146be00"),
    "sha224": (20, "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22"),
    "sha256": (20, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    "sha384": (
        20,
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
    ),
    "sha512": (
        20,
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    ),
}


@pytest.mark.parametrize("auth", AUTH)
def test_digest_is_the_published_hmac_truncated_to_the_rfc_length(auth: str) -> None:
    key_length, full = HMAC_CASE_1[auth]
    keys = LocalizedKeys.for_engine(UsmUser(b"noc", auth, RFC_PASSPHRASE), RFC_ENGINE)
    assert keys.mac_length == MAC_LENGTH[auth]
    assert keys.mac_length == SnmpUSMSecurityModel.AUTH_SERVICES[PYSNMP_AUTH[auth]].digest_length
    vector = LocalizedKeys(auth, "none", b"\x0b" * key_length, b"", keys.digest_name, keys.mac_length)
    assert vector.sign(b"Hi There").hex() == full[: 2 * MAC_LENGTH[auth]]


@pytest.mark.parametrize("auth", AUTH)
def test_digest_equals_pysnmps_authentication_of_the_same_message(auth: str) -> None:
    """pysnmp writes its MAC over the first run of zeros it finds (the placeholder); ours at the offset."""
    keys = LocalizedKeys.for_engine(UsmUser(b"noc", auth, RFC_PASSPHRASE), RFC_ENGINE)
    head, tail = b"\x30\x81\x90\x02\x01\x03 header \x04" + bytes((keys.mac_length,)), b"\x04\x00 scoped PDU" * 9
    whole = head + bytes(keys.mac_length) + tail
    service = SnmpUSMSecurityModel.AUTH_SERVICES[PYSNMP_AUTH[auth]]
    signed = service.authenticate_outgoing_message(univ.OctetString(keys.auth_key), whole)
    assert signed == head + keys.sign(whole) + tail
    # and pysnmp verifies ours
    digest = univ.OctetString(keys.sign(whole))
    assert service.authenticate_incoming_message(univ.OctetString(keys.auth_key), digest, signed) == whole


# --------------------------------------------------------------------------- privacy keys


@pytest.mark.parametrize("priv", sorted(set(PYSNMP_PRIV) - {"none"}))
@pytest.mark.parametrize("auth", AUTH)
def test_privacy_key_equals_pysnmps(auth: str, priv: str) -> None:
    engine_id = ENGINES[1]
    passphrase = b"privpass-4711"
    ours = localized_privacy_key(auth, priv, passphrase, engine_id)
    assert len(ours) == KEY_LENGTH[priv]
    assert ours == pysnmp_priv_key(auth, priv, passphrase, engine_id)
    user = UsmUser(b"noc", auth, b"authpass-4711", priv, passphrase)
    keys = LocalizedKeys.for_engine(user, engine_id)
    assert keys.priv_key == ours
    assert keys.auth_key == pysnmp_auth_key(auth, b"authpass-4711", engine_id)
    # the first octets are always the localized key (RFC 3414 2.6 / RFC 3826 1.2.3)
    kul = localize_key(auth, password_to_key(auth, passphrase), engine_id)
    assert ours[: min(len(kul), len(ours))] == kul[: len(ours)]


@pytest.mark.parametrize("size", ["192", "256"])
@pytest.mark.parametrize("auth", AUTH)
def test_blumenthal_and_reeder_differ_exactly_when_the_key_is_extended(auth: str, size: str) -> None:
    """Blumenthal appends H(Kul), Reeder the localization of password-to-key(Kul): the same key when
    the hash is long enough not to need extending (SHA-256 for AES-192, SHA-384/512 for both)."""
    blumenthal = localized_privacy_key(auth, f"aes{size}", RFC_PASSPHRASE, RFC_ENGINE)
    reeder = localized_privacy_key(auth, f"aes{size}c", RFC_PASSPHRASE, RFC_ENGINE)
    extended = HASH_LENGTH[auth] < KEY_LENGTH[f"aes{size}"]
    assert (blumenthal != reeder) == extended
    kul = localize_key(auth, password_to_key(auth, RFC_PASSPHRASE), RFC_ENGINE)
    if extended:
        name = {"md5": "md5", "sha": "sha1", "sha224": "sha224"}[auth]
        assert blumenthal == (kul + hashlib.new(name, kul).digest())[: len(blumenthal)]
        assert reeder == (kul + localize_key(auth, password_to_key(auth, kul), RFC_ENGINE))[: len(reeder)]
    # both equal pysnmp's on the RFC inputs as well
    assert blumenthal == pysnmp_priv_key(auth, f"aes{size}", RFC_PASSPHRASE, RFC_ENGINE)
    assert reeder == pysnmp_priv_key(auth, f"aes{size}c", RFC_PASSPHRASE, RFC_ENGINE)


def test_keys_never_appear_in_a_repr() -> None:
    user = UsmUser(b"noc", "sha", b"authpass-4711", "aes256c", b"privpass-4711")
    keys = LocalizedKeys.for_engine(user, RFC_ENGINE)
    for text in (repr(user), repr(keys)):
        assert "authpass" not in text and "privpass" not in text
        assert keys.auth_key.hex() not in text and keys.priv_key.hex() not in text
        assert repr(keys.auth_key)[2:-1] not in text
