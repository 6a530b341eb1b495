"""The User-based Security Model's cryptography (RFC 3414, RFC 3826, RFC 7860): keys, digests, privacy.

Owns what USM computes, for both sides of an exchange (our client and the
simulated agents):

* **Keys.** A passphrase becomes a key by hashing one megabyte of it
  (RFC 3414 A.2, "password to key"), then is localized to one authoritative
  engine, ``H(Ku | engineID | Ku)``. The first step costs milliseconds and is
  cached per passphrase; the second per engine in :class:`LocalizedKeys`.
* **Authentication.** HMAC-MD5-96, HMAC-SHA-96 (RFC 3414) and HMAC-SHA-2 with
  128/192/256/384-bit truncation (RFC 7860), over the whole message with the
  authentication parameters zeroed.
* **Privacy.** DES-CBC (RFC 3414 8.1), AES-128-CFB (RFC 3826) and AES-192/256
  CFB with the two key extensions in use: Blumenthal's (draft-blumenthal-aes-usm-04,
  ``Kul || H(Kul)``; net-snmp's ``AES192``/``AES256``) and Reeder's
  (draft-reeder-snmpv3-usm-3desede, the password-to-key steps repeated over the
  key; Cisco's and net-snmp's ``AES192C``/``AES256C``).

Protocol names follow net-snmp's spelling in lower case. Keys and passphrases
are bytes that never appear in a ``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from collectors.snmp.codec import SnmpDecodeError
from collectors.snmp.codec_v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    ScopedPdu,
    V3Message,
    decode_scoped_pdu,
    encode_v3_message,
)

try:  # cryptography 47 moved CFB to the "decrepit" modes; older releases have only the original
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - depends on the installed cryptography
    CFB = modes.CFB  # type: ignore[misc, assignment]

AUTH_PROTOCOLS: Final = ("none", "md5", "sha", "sha224", "sha256", "sha384", "sha512")
PRIV_PROTOCOLS: Final = ("none", "des", "aes", "aes192", "aes256", "aes192c", "aes256c")
# the hash and the length of the truncated MAC that goes on the wire (RFC 3414 6/7, RFC 7860 4.2.1)
_AUTH: Final[dict[str, tuple[str, int]]] = {
    "md5": ("md5", 12),
    "sha": ("sha1", 12),
    "sha224": ("sha224", 16),
    "sha256": ("sha256", 24),
    "sha384": ("sha384", 32),
    "sha512": ("sha512", 48),
}
# key length, and how a localized key too short for it is extended
_PRIV_KEY_LENGTH: Final = {"des": 16, "aes": 16, "aes192": 24, "aes256": 32, "aes192c": 24, "aes256c": 32}
_REEDER: Final = frozenset({"aes192c", "aes256c"})
TIME_WINDOW: Final = 150  # seconds an authenticated message may be off the engine's time (RFC 3414 2.2.3)
MIN_PASSPHRASE: Final = 8  # RFC 3414 11.2: shorter passphrases are refused (net-snmp refuses them too)
_PASSPHRASE_OCTETS: Final = 1_048_576


class UsmError(ValueError):
    """A USM computation cannot be done with these inputs (wrong key length, bad ciphertext)."""


class DecryptionError(UsmError):
    """The encrypted scopedPDU cannot be decrypted (usmStatsDecryptionErrors)."""


@dataclass(frozen=True, slots=True)
class UsmUser:
    """An SNMPv3 user as the manager knows it: name, protocols and the two passphrases."""

    name: bytes
    auth_protocol: str = "none"
    auth_key: bytes | None = field(default=None, repr=False)
    priv_protocol: str = "none"
    priv_key: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for attribute in ("name", "auth_key", "priv_key"):
            value = getattr(self, attribute)
            if isinstance(value, str):
                object.__setattr__(self, attribute, value.encode())
        if not 0 < len(self.name) <= 32:
            raise ValueError(f"a USM user name has 1 to 32 octets, got {len(self.name)}")
        if self.auth_protocol not in AUTH_PROTOCOLS:
            raise ValueError(f"unknown authentication protocol {self.auth_protocol!r}: use one of {AUTH_PROTOCOLS}")
        if self.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"unknown privacy protocol {self.priv_protocol!r}: use one of {PRIV_PROTOCOLS}")
        if self.auth_protocol == "none" and self.priv_protocol != "none":
            raise ValueError("privacy without authentication does not exist in SNMPv3")
        for protocol, key, what in (
            (self.auth_protocol, self.auth_key, "authentication"),
            (self.priv_protocol, self.priv_key, "privacy"),
        ):
            if protocol != "none" and (key is None or len(key) < MIN_PASSPHRASE):
                raise ValueError(f"the {what} passphrase must have at least {MIN_PASSPHRASE} characters")

    @property
    def authenticated(self) -> bool:
        return self.auth_protocol != "none"

    @property
    def private(self) -> bool:
        return self.priv_protocol != "none"

    @property
    def flags(self) -> int:
        """The msgFlags bits of this user's security level (authentication, privacy)."""
        return (FLAG_AUTH if self.authenticated else 0) | (FLAG_PRIV if self.private else 0)

    @property
    def security_level(self) -> str:
        if self.private:
            return "authPriv"
        return "authNoPriv" if self.authenticated else "noAuthNoPriv"


# --------------------------------------------------------------------------- keys


@lru_cache(maxsize=256)
def password_to_key(auth_protocol: str, passphrase: bytes) -> bytes:
    """Ku: the hash of the passphrase repeated to one megabyte (RFC 3414 A.2.1/A.2.2, RFC 7860 9.3)."""
    if not passphrase:
        raise UsmError("empty passphrase")
    repeated = passphrase * (_PASSPHRASE_OCTETS // len(passphrase) + 1)
    return hashlib.new(_AUTH[auth_protocol][0], memoryview(repeated)[:_PASSPHRASE_OCTETS]).digest()


def localize_key(auth_protocol: str, key: bytes, engine_id: bytes) -> bytes:
    """Kul = H(Ku | snmpEngineID | Ku) (RFC 3414 2.6)."""
    return hashlib.new(_AUTH[auth_protocol][0], key + engine_id + key).digest()


def localized_privacy_key(auth_protocol: str, priv_protocol: str, passphrase: bytes, engine_id: bytes) -> bytes:
    """The privacy key for ``priv_protocol``, extended as the protocol's key extension says."""
    key = localize_key(auth_protocol, password_to_key(auth_protocol, passphrase), engine_id)
    needed = _PRIV_KEY_LENGTH[priv_protocol]
    hash_name = _AUTH[auth_protocol][0]
    if priv_protocol in _REEDER:
        while len(key) < needed:  # Reeder 2.1: password-to-key and localize the key so far, append
            key += localize_key(auth_protocol, password_to_key(auth_protocol, key), engine_id)
    else:
        while len(key) < needed:  # Blumenthal 3.1.2.1: append the hash of the key so far
            key += hashlib.new(hash_name, key).digest()
    return key[:needed]


@dataclass(frozen=True, slots=True)
class LocalizedKeys:
    """One user's keys localized to one engine, and what signs and encrypts with them."""

    auth_protocol: str
    priv_protocol: str
    auth_key: bytes = field(repr=False)
    priv_key: bytes = field(repr=False)
    digest_name: str = ""
    mac_length: int = 0

    @classmethod
    def for_engine(cls, user: UsmUser, engine_id: bytes) -> LocalizedKeys:
        if not user.authenticated:
            return cls("none", "none", b"", b"")
        assert user.auth_key is not None
        auth_key = localize_key(user.auth_protocol, password_to_key(user.auth_protocol, user.auth_key), engine_id)
        priv_key = b""
        if user.private:
            assert user.priv_key is not None
            priv_key = localized_privacy_key(user.auth_protocol, user.priv_protocol, user.priv_key, engine_id)
        name, length = _AUTH[user.auth_protocol]
        return cls(user.auth_protocol, user.priv_protocol, auth_key, priv_key, name, length)

    @property
    def authenticated(self) -> bool:
        return self.mac_length > 0

    @property
    def private(self) -> bool:
        return bool(self.priv_key)

    def sign(self, whole_message: bytes) -> bytes:
        """The truncated HMAC of a message whose authentication parameters are zeros."""
        return hmac.digest(self.auth_key, whole_message, self.digest_name)[: self.mac_length]

    def encrypt(self, plaintext: bytes, boots: int, engine_time: int, salt: int) -> tuple[bytes, bytes]:
        """(ciphertext, msgPrivacyParameters) for a scopedPDU; ``salt`` is the sender's counter."""
        return encrypt(self.priv_protocol, self.priv_key, plaintext, boots, engine_time, salt)

    def decrypt(self, ciphertext: bytes, boots: int, engine_time: int, privacy_parameters: bytes) -> bytes:
        return decrypt(self.priv_protocol, self.priv_key, ciphertext, boots, engine_time, privacy_parameters)

    # the two sides of an exchange (our client, the simulated agents) seal and open messages alike

    def seal(
        self,
        flags: int,
        msg_id: int,
        max_size: int,
        engine_id: bytes,
        boots: int,
        engine_time: int,
        user_name: bytes,
        scoped: bytes,
        salt: Callable[[], int],
    ) -> bytes:
        """A whole message of the scopedPDU TLV ``scoped``: encrypted with FLAG_PRIV (``salt()`` gives the
        sender's next salt), then signed with FLAG_AUTH."""
        privacy = b""
        if flags & FLAG_PRIV:
            scoped, privacy = self.encrypt(scoped, boots, engine_time, salt())
        length = self.mac_length if flags & FLAG_AUTH else 0
        message, offset = encode_v3_message(
            msg_id, max_size, flags, engine_id, boots, engine_time, user_name, length, privacy, scoped
        )
        if not length:
            return message
        return message[:offset] + self.sign(message) + message[offset + length :]

    def verifies(self, message: V3Message, raw: bytes) -> bool:
        """Does the digest of ``message`` (decoded from ``raw``) verify with these keys?"""
        length = self.mac_length
        if not length or len(message.auth_parameters) != length:
            return False
        offset = message.auth_offset
        zeroed = raw[:offset] + bytes(length) + raw[offset + length :]
        return hmac.compare_digest(self.sign(zeroed), message.auth_parameters)

    def open_encrypted(self, message: V3Message) -> ScopedPdu:
        """The scopedPDU of an encrypted message; :class:`DecryptionError` when it is not one after decrypting."""
        plaintext = self.decrypt(message.data, message.engine_boots, message.engine_time, message.privacy_parameters)
        try:
            return decode_scoped_pdu(plaintext, decrypted=True)
        except SnmpDecodeError as exc:
            raise DecryptionError(str(exc)) from None


# --------------------------------------------------------------------------- privacy


def _des_cipher(key: bytes, salt: bytes) -> Cipher:
    iv = bytes(a ^ b for a, b in zip(key[8:16], salt, strict=True))  # RFC 3414 8.1.1.1
    return Cipher(TripleDES(key[:8] * 3), modes.CBC(iv))  # three equal keys: single DES


def _aes_cipher(key: bytes, boots: int, engine_time: int, salt: bytes) -> Cipher:
    iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt  # RFC 3826 3.1.2.1
    return Cipher(algorithms.AES(key), CFB(iv))


def encrypt(
    priv_protocol: str, key: bytes, plaintext: bytes, boots: int, engine_time: int, salt: int
) -> tuple[bytes, bytes]:
    """Encrypt a scopedPDU; return (ciphertext, the salt to send as msgPrivacyParameters)."""
    if priv_protocol == "des":
        salt_octets = boots.to_bytes(4, "big") + (salt & 0xFFFFFFFF).to_bytes(4, "big")
        padding = -len(plaintext) % 8  # any octets will do (RFC 3414 8.1.1.2); zeros like net-snmp
        encryptor = _des_cipher(key, salt_octets).encryptor()
        return encryptor.update(plaintext + bytes(padding)) + encryptor.finalize(), salt_octets
    salt_octets = (salt & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
    encryptor = _aes_cipher(key, boots, engine_time, salt_octets).encryptor()
    return encryptor.update(plaintext) + encryptor.finalize(), salt_octets


def decrypt(
    priv_protocol: str, key: bytes, ciphertext: bytes, boots: int, engine_time: int, privacy_parameters: bytes
) -> bytes:
    """Decrypt an encryptedPDU; raise :class:`DecryptionError` when its shape is impossible."""
    if len(privacy_parameters) != 8:
        raise DecryptionError(f"msgPrivacyParameters of {len(privacy_parameters)} octets, not 8")
    if priv_protocol == "des":
        if not ciphertext or len(ciphertext) % 8:
            raise DecryptionError(f"DES ciphertext of {len(ciphertext)} octets is not a multiple of 8")
        decryptor = _des_cipher(key, privacy_parameters).decryptor()
    else:
        decryptor = _aes_cipher(key, boots, engine_time, privacy_parameters).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


class SaltCounter:
    """The sender's salt: a counter from a random start (RFC 3414 8.1.1.1, RFC 3826 3.1.2.1)."""

    __slots__ = ("_next",)

    def __init__(self, source: Callable[[int], bytes] = os.urandom) -> None:
        self._next = int.from_bytes(source(8), "big")

    def __call__(self) -> int:
        value = self._next
        self._next = (value + 1) & 0xFFFFFFFFFFFFFFFF
        return value
