"""HTTP caching of the status page's answers: a strong ``ETag`` from the body, ``Cache-Control``, 304 on a match.

Owns the one way every page, SVG, feed and JSON document of :mod:`stadtnetz.app.web` is answered:
:func:`cached_response` hashes the body (BLAKE2b, 128 bits) into a strong ETag, answers
``304 Not Modified`` (no body) when the request's ``If-None-Match`` names it (or ``*``), and otherwise
the body with ``Cache-Control: public|private, max-age=N``. A :class:`Cached` body made once per
snapshot carries its ETag and a gzip copy, so a thousand requests for it hash and compress nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field

from aiohttp import web


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


@dataclass(slots=True)
class Cached:
    """A rendered body with its ETag; the gzip copy is made on first use."""

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


def _matches(request: web.Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    candidates = {item.strip().removeprefix("W/") for item in header.split(",")}
    return "*" in candidates or etag in candidates


def answer(request: web.Request, cached: Cached, max_age: float, private: bool = False) -> web.Response:
    """``cached`` as the answer to ``request``: 304 when the client has it, gzip when it accepts that."""
    headers = {
        "ETag": cached.etag,
        "Cache-Control": f"{'private' if private else 'public'}, max-age={max(0, int(max_age))}",
        "Vary": "Accept-Encoding" + (", Authorization" if private else ""),
    }
    if _matches(request, cached.etag):
        return web.Response(status=304, headers=headers)
    body = cached.body
    if len(body) > 1024 and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = cached.gzipped
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = cached.content_type
    return web.Response(body=body, headers=headers)


def cached_response(
    request: web.Request, body: bytes, content_type: str, max_age: float, private: bool = False
) -> web.Response:
    """``body`` with a strong ETag and ``Cache-Control``; 304 (no body) when ``If-None-Match`` names the ETag."""
    return answer(request, Cached(body, content_type), max_age, private)


def cached_json_response(request: web.Request, payload: object, max_age: float, private: bool = False) -> web.Response:
    """A JSON document (UTF-8, keys in the order given) answered like :func:`cached_response`."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return cached_response(request, body, "application/json; charset=utf-8", max_age, private)
