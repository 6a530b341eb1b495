"""Who may see the operator pages: HTTP Basic logins against ``web.users``, or loopback when there are none.

Owns the decision :mod:`stadtnetz.app.web` asks for every operator route (``/``, ``/devices/*``, the
operator feeds, map and badge, ``/api/*`` except ``/api/public/*``, and ``/metrics`` with
``web.metrics_login``):

* **With users configured**, every request needs ``Authorization: Basic`` with a configured user and its
  password, from anywhere (loopback too). The password is checked against the scrypt hash
  (:func:`stadtnetz.passwords.verify_password`, constant-time comparison) in a worker thread; a success is
  remembered for ten minutes under a keyed digest of user and password, so a page and its refreshes cost
  one scrypt. An unknown user costs the same scrypt as a known one (against a dummy hash).
* **Without users**, a request is served only from loopback (127.0.0.0/8, ::1) and only when it carries no
  ``Forwarded``/``X-Forwarded-For`` header (a reverse proxy on this machine would otherwise make every
  visitor "local"); anything else gets 403 with an explanation.
* **Failed logins** are counted per client address: after 10 within a minute, that client gets 429 until
  the minute is over. The log has at most one line a minute about them (:class:`stadtnetz.log_limit.LogLimiter`),
  with the count; it names a user only when that user exists (a mistyped password must not end up in a log
  as a user name), never a password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ipaddress
import logging
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from stadtnetz.clock import Clock
from stadtnetz.log_limit import LogLimiter
from stadtnetz.model import WebSettings
from stadtnetz.passwords import hash_password, verify_password

log = logging.getLogger("stadtnetz.web")

REMEMBER_SECONDS = 600.0
FAILURE_WINDOW = 60.0
MAX_FAILURES = 10
LOG_EVERY = 60.0
REALM = "stadtnetz operator pages"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    status: int = 200  # when not allowed: 401, 403 or 429
    reason: str = ""
    user: str = ""
    retry_after: int = 0


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


class Gate:
    """The operator pages' door; see the module docstring."""

    def __init__(self, settings: WebSettings, clock: Clock) -> None:
        self.users: dict[str, str] = {user.name: user.password_hash.reveal() for user in settings.users}
        self.clock = clock
        self._key = os.urandom(32)  # keys the remembered digests: they mean nothing outside this process
        self._remembered: dict[bytes, float] = {}
        self._failures: dict[str, deque[float]] = {}
        self._limiter = LogLimiter(clock, LOG_EVERY)
        self._dummy = hash_password(os.urandom(12).hex(), )
        self.failed_total = 0
        self.refused_total = 0  # 403 and 429 answers

    @property
    def logins(self) -> bool:
        return bool(self.users)

    def _digest(self, user: str, password: str) -> bytes:
        return hashlib.blake2b(f"{user}\0{password}".encode(), key=self._key, digest_size=32).digest()

    def _blocked_for(self, client: str) -> float:
        failures = self._failures.get(client)
        if not failures:
            return 0.0
        now = self.clock.monotonic()
        while failures and now - failures[0] > FAILURE_WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0.0
        return FAILURE_WINDOW - (now - failures[0]) if len(failures) >= MAX_FAILURES else 0.0

    def _failed(self, client: str, user: str) -> None:
        self.failed_total += 1
        failures = self._failures.setdefault(client, deque())
        failures.append(self.clock.monotonic())
        if len(self._failures) > 10_000:  # a scan from many addresses must not grow this without bound
            self._failures.pop(next(iter(self._failures)))
        count = self._limiter.due("login")
        if count:
            who = f"user {user!r}" if user in self.users else "an unknown user"
            log.warning(
                "status page: %d failed login%s (the latest from %s as %s)", count, "s" if count != 1 else "", client,
                who,
            )

    async def check(self, headers: Mapping[str, str], client: str | None) -> Verdict:
        """May this request see an operator page?"""
        client = client or "unknown"
        if not self.users:
            forwarded = "Forwarded" in headers or "X-Forwarded-For" in headers
            if is_loopback(client) and not forwarded:
                return Verdict(True)
            self.refused_total += 1
            reason = (
                "request through a proxy (Forwarded/X-Forwarded-For)" if forwarded else f"request from {client}"
            )
            return Verdict(
                False,
                403,
                f"403 Forbidden: the operator pages are served only to requests from this machine (loopback) while "
                f"no operator logins are configured, and this is a {reason}. Configure web.users (make each hash "
                "with `stadtnetz web hash-password`) to serve them with a login; the public page is /public.",
            )
        blocked = self._blocked_for(client)
        if blocked > 0:
            self.refused_total += 1
            return Verdict(False, 429, "429 Too Many Requests: too many failed logins; try again later.",
                           retry_after=int(blocked) + 1)
        credentials = parse_basic(headers.get("Authorization"))
        if credentials is None:
            return Verdict(False, 401, "401 Unauthorized: log in with an operator user of web.users.")
        user, password = credentials
        digest = self._digest(user, password)
        now = self.clock.monotonic()
        expires = self._remembered.get(digest)
        if expires is not None and expires > now and user in self.users:
            return Verdict(True, user=user)
        stored = self.users.get(user, self._dummy)
        matched = await asyncio.to_thread(verify_password, password, stored)
        if matched and user in self.users:
            if len(self._remembered) > 1000:
                self._remembered = {k: v for k, v in self._remembered.items() if v > now}
            self._remembered[digest] = now + REMEMBER_SECONDS
            return Verdict(True, user=user)
        self._failed(client, user)
        return Verdict(False, 401, "401 Unauthorized: wrong user or password.")
