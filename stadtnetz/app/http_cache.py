"""HTTP caching of every page, SVG, feed and JSON document: a strong ``ETag`` from the body, ``Cache-Control``, 304.

Owns the one way :mod:`stadtnetz.app.web` (the status page) and :mod:`stadtnetz.app.opendata` (the public feeds)
answer: a :class:`Cached` body hashed once (BLAKE2b, 128 bits) into a strong ETag, with a gzip copy made on first
use; :func:`answer` replies ``304 Not Modified`` (no body) to a GET or HEAD whose ``If-None-Match`` names that ETag
(or ``*``; compared weakly, as RFC 9110 asks), else the body (gzipped when the client accepts it) with
``Cache-Control: public|private, max-age=N``. :class:`BodyCache` keeps the encoded body while a producer hands out
the same payload object again, so a feed asked a thousand times a second is encoded once.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON = "application/json"
GZIP_FROM = 1024  # bytes: smaller bodies go as they are


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


@dataclass(slots=True)
class Cached:
    """A rendered body with its content type and ETag; the gzip copy is made on first use."""

    body: bytes
    content_type: str
    etag: str = ""
    _gzipped: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.etag:
            self.etag = etag_of(self.body)

    @property
    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


def encode_json(payload: Any, content_type: str = JSON) -> Cached:
    """``payload`` as compact UTF-8 JSON (keys in the order given; NaN refused)."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return Cached(data, content_type)


def not_modified(request: web.BaseRequest, etag: str) -> bool:
    """Whether the request's ``If-None-Match`` names ``etag`` or is ``*`` (weak comparison)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def answer(
    request: web.BaseRequest,
    cached: Cached,
    max_age: float,
    private: bool = False,
    headers: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    """``cached`` as the answer to ``request``: 304 when the client holds it, gzip when it accepts that."""
    common = {
        "ETag": cached.etag,
        "Cache-Control": f"{'private' if private else 'public'}, max-age={max(0, int(max_age))}",
        "Vary": "Accept-Encoding" + (", Authorization" if private else ""),
        **(headers or {}),
    }
    if status == 200 and request.method in ("GET", "HEAD") and not_modified(request, cached.etag):
        return web.Response(status=304, headers=common)
    body = cached.body
    if len(body) > GZIP_FROM and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = cached.gzipped
        common["Content-Encoding"] = "gzip"
    common["Content-Type"] = cached.content_type
    return web.Response(body=body, status=status, headers=common)


def cached_response(
    request: web.BaseRequest, body: bytes, content_type: str, max_age: float, private: bool = False
) -> web.Response:
    """``body`` answered like :func:`answer` (its ETag made now)."""
    return answer(request, Cached(body, content_type), max_age, private)


def cached_json_response(
    request: web.BaseRequest,
    payload: Any,
    max_age: float,
    private: bool = False,
    content_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A JSON document answered like :func:`answer`."""
    return answer(request, encode_json(payload, content_type), max_age, private, headers)


class BodyCache:
    """The encoded body of the payload last seen under each key, reused while the same object comes again."""

    def __init__(self) -> None:
        self._held: dict[Any, tuple[Any, Cached]] = {}

    def body(self, key: Any, payload: Any, content_type: str = JSON) -> Cached:
        held = self._held.get(key)
        if held is not None and held[0] is payload:
            return held[1]
        body = encode_json(payload, content_type)
        if len(self._held) > 1024:  # keys with query parameters must not grow this forever
            self._held.clear()
        self._held[key] = (payload, body)
        return body
