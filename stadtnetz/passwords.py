"""Password hashes for the status page's operator logins: made by ``stadtnetz web hash-password``, checked at login.

Owns the one hash format the configuration accepts (``web.users.NAME.password_hash``, always by reference:
``${ENV}`` or ``file:PATH``) and its verification. The format is scrypt (RFC 7914, :func:`hashlib.scrypt`) in the
modular-crypt notation passlib also writes::

    $scrypt$ln=15,r=8,p=1$<salt>$<key>

``ln`` is log2 of the cost N, ``r`` the block size, ``p`` the parallelism; salt (16 random bytes) and key (32
bytes) are standard base64 without padding. Verification recomputes the key with the stored parameters and
compares in constant time (:func:`hmac.compare_digest`). The password itself is never stored, logged or shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

SCHEME = "scrypt"
DEFAULT_LN = 15  # N = 32768: ~32 MiB of memory and ~0.1 s of one core per check (cached after a success)
DEFAULT_R = 8
DEFAULT_P = 1
KEY_BYTES = 32
SALT_BYTES = 16
_FORMAT = re.compile(r"^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$")


class PasswordHashError(ValueError):
    """Not a password hash this module can check; the message never contains the text it was given."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, ln: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << ln, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=KEY_BYTES
    )


def hash_password(password: str, *, ln: int = DEFAULT_LN, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """A new hash of ``password`` with a random salt."""
    if not password:
        raise ValueError("an empty password cannot be used")
    salt = os.urandom(SALT_BYTES)
    return f"${SCHEME}$ln={ln},r={r},p={p}${_b64(salt)}${_b64(_derive(password, salt, ln, r, p))}"


def parse_hash(text: str) -> tuple[int, int, int, bytes, bytes]:
    """(ln, r, p, salt, key) of a hash; :class:`PasswordHashError` when it is not one of ours."""
    match = _FORMAT.match(text.strip())
    if match is None:
        raise PasswordHashError(
            "not a password hash: expected $scrypt$ln=..,r=..,p=..$salt$key as `stadtnetz web hash-password` "
            "prints it (a password itself is never accepted)"
        )
    ln, r, p = (int(match[i]) for i in (1, 2, 3))
    if not (10 <= ln <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
        raise PasswordHashError("scrypt parameters out of range: ln 10..20, r 1..32, p 1..16")
    try:
        salt, key = _unb64(match[4]), _unb64(match[5])
    except ValueError:
        raise PasswordHashError("the salt or key of the hash is not base64") from None
    if len(salt) < 8 or len(key) < 16:
        raise PasswordHashError("the salt or key of the hash is too short")
    return ln, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the hash ``stored`` (compared in constant time); False for a malformed hash."""
    try:
        ln, r, p, salt, key = parse_hash(stored)
    except PasswordHashError:
        return False
    candidate = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << ln, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=len(key)
    )
    return hmac.compare_digest(candidate, key)
