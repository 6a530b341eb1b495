"""HTTP caching of JSON responses: ``Cache-Control: public, max-age=N`` and a strong ETag, 304 on If-None-Match.

Owns encoding a payload once (compact UTF-8 JSON, its ETag a hash of exactly those bytes), answering a conditional
GET or HEAD whose If-None-Match names the current ETag (or ``*``) with 304 Not Modified and no body, and keeping the
encoded body while a producer hands out the same payload object again (:class:`BodyCache`), so a feed asked a
thousand times a second is encoded once. For every public JSON route: the open data feeds, the status pages' API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Body:
    data: bytes
    etag: str  # a strong entity tag, quoted: "3f2a..."


def encode_json(payload: Any) -> Body:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return Body(data, f'"{hashlib.blake2b(data, digest_size=16).hexdigest()}"')


def not_modified(request: web.BaseRequest, etag: str) -> bool:
    """Whether the request's If-None-Match matches ``etag`` (the weak comparison RFC 9110 asks for there)."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def respond(
    request: web.BaseRequest,
    body: Body,
    max_age: int,
    content_type: str = JSON,
    headers: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    """``body`` with its caching headers, or 304 Not Modified when the client holds it already."""
    common = {"ETag": body.etag, "Cache-Control": f"public, max-age={max_age}", **(headers or {})}
    if status == 200 and request.method in ("GET", "HEAD") and not_modified(request, body.etag):
        return web.Response(status=304, headers=common)
    return web.Response(body=body.data, status=status, content_type=content_type, headers=common)


def cached_json_response(
    request: web.BaseRequest,
    payload: Any,
    max_age: int,
    content_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """``payload`` as JSON with ``Cache-Control: public, max-age=max_age`` and a strong ETag; 304 if unchanged."""
    return respond(request, encode_json(payload), max_age, content_type, headers)


class BodyCache:
    """The encoded body of the payload last seen under each key, reused while the same object comes again."""

    def __init__(self) -> None:
        self._held: dict[Any, tuple[Any, Body]] = {}

    def body(self, key: Any, payload: Any) -> Body:
        held = self._held.get(key)
        if held is not None and held[0] is payload:
            return held[1]
        body = encode_json(payload)
        if len(self._held) > 1024:  # keys with query parameters must not grow this forever
            self._held.clear()
        self._held[key] = (payload, body)
        return body
