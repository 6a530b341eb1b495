"""What the OCPP endpoint's configuration lets an attacker do: the warnings the service logs at start and
`stadtnetz check` prints.

Owns two judgements over :class:`stadtnetz.model.OcppSettings` and the chargers:

* ``ocpp.auth: none``: charger ids alone get in, so anyone who reaches the
  endpoint can connect as ``cp-001`` and replace the real charger's connection.
* Basic auth over plain ``ws://`` on an address other than loopback
  (127.0.0.0/8, ::1): the passwords travel in clear text over the network.

Also the endpoint's TLS server context (:func:`server_tls_context`, security profile 2), which the
configuration builds once at load to check the files, and the service builds for the endpoint.

Nothing here ever names a password, only where it comes from.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from pathlib import Path

from stadtnetz.model import Charger, OcppSettings

OPEN_WARNING = "OCPP endpoint accepts any charger id without credentials"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the name localhost; False for everything else (0.0.0.0 and :: included)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_warnings(settings: OcppSettings, chargers: Sequence[Charger]) -> list[str]:
    """The warnings for this endpoint, each one line; empty when it is closed and its passwords stay private."""
    warnings: list[str] = []
    without = sum(charger.password is None for charger in chargers)
    if settings.auth == "none" and without:
        warnings.append(
            f"{OPEN_WARNING} (ocpp.auth: none; {without} of {len(chargers)} chargers have no password): anyone "
            "who reaches it can connect as one of them and replace its connection"
        )
    host, port = settings.listen
    if not settings.tls and not is_loopback(host) and without < len(chargers):
        shown = f"[{host}]" if ":" in host else host
        warnings.append(
            f"OCPP endpoint on {shown}:{port} uses HTTP Basic auth over plain ws://: charger passwords travel in "
            "clear text; configure ocpp.tls (wss://, security profile 2) or listen on loopback behind a TLS proxy"
        )
    return warnings


def server_tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """A TLS server context for the endpoint (security profile 2): TLS 1.2 or newer, as OCPP 1.6's
    security whitepaper asks; raises OSError/ssl.SSLError if the files are unusable."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context
