"""Maintenance windows as Alertmanager silences: plan them, and make Alertmanager hold exactly those.

Owns the translation of a window's openings (from now up to a horizon) into
silences over Alertmanager's API v2, and ``apply``: create what is missing,
leave what is already there, expire the silences stadtnetz made earlier that no
window asks for any more (a window removed or moved in the configuration). It
touches only silences whose ``createdBy`` is ``stadtnetz``; silences people
made by hand are never changed.

Each opening becomes two silences, because Alertmanager ANDs the matchers of
one silence: one over ``device`` (the covered devices' own alerts) and one
over ``root_cause`` (the alerts of devices unreachable behind a covered
device, e.g. ``StadtnetzSiteUnreachable``). Device ids are listed in an
anchored regular expression (Alertmanager anchors ``=~`` matchers).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stadtnetz.maintenance import Maintenance

CREATED_BY = "stadtnetz"
MATCH_LABELS = ("device", "root_cause")


class AlertmanagerError(RuntimeError):
    """Alertmanager could not be reached or refused a request."""


@dataclass(frozen=True, slots=True)
class PlannedSilence:
    window: str
    label: str  # device or root_cause
    devices: tuple[str, ...]
    opens: dt.datetime  # when the opening begins (it names the silence)
    starts: dt.datetime  # when the silence starts: the opening, or now if it is already open
    ends: dt.datetime
    reason: str

    @property
    def key(self) -> str:
        """Identifies the silence on later runs: window, label and opening."""
        return f"stadtnetz maintenance {self.window} [{self.label}] {_iso(self.opens)}"

    @property
    def comment(self) -> str:
        """The key, then the reason for people."""
        return f"{self.key}: {self.reason}" if self.reason else self.key

    def matchers(self) -> list[dict[str, Any]]:
        pattern = "|".join(re.escape(device) for device in self.devices)
        return [{"name": self.label, "value": pattern, "isRegex": True, "isEqual": True}]

    def body(self) -> dict[str, Any]:
        return {
            "matchers": self.matchers(),
            "startsAt": _iso(self.starts),
            "endsAt": _iso(self.ends),
            "createdBy": CREATED_BY,
            "comment": self.comment,
        }


@dataclass(frozen=True, slots=True)
class ApplyResult:
    created: list[str]
    unchanged: list[str]
    expired: list[str]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def plan(maintenance: Maintenance, now: dt.datetime, horizon: dt.timedelta) -> list[PlannedSilence]:
    """The silences the windows ask for: every opening that is open now or starts within ``horizon``."""
    planned: list[PlannedSilence] = []
    for window in maintenance.windows:
        devices = tuple(sorted(maintenance.covered[window.name]))
        if not devices:
            continue
        for starts, ends in window.occurrences(now, now + horizon):
            for label in MATCH_LABELS:
                planned.append(
                    PlannedSilence(window.name, label, devices, starts, max(starts, now), ends, window.reason)
                )
    return planned


class Alertmanager:
    """The few calls of Alertmanager's API v2 that maintenance needs."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v2/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise AlertmanagerError(f"{method} {self.url}/api/v2/{path}: HTTP {exc.code}: {detail}") from None
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            raise AlertmanagerError(f"cannot reach Alertmanager at {self.url}: {reason}") from None
        return json.loads(payload) if payload else None

    def silences(self) -> list[dict[str, Any]]:
        return self._call("GET", "silences")

    def create(self, silence: PlannedSilence) -> str:
        return self._call("POST", "silences", silence.body())["silenceID"]

    def expire(self, silence_id: str) -> None:
        self._call("DELETE", f"silence/{silence_id}")


def _same(existing: dict[str, Any], planned: PlannedSilence) -> bool:
    wanted = planned.matchers()
    have = [
        {"name": m["name"], "value": m["value"], "isRegex": m["isRegex"], "isEqual": m.get("isEqual", True)}
        for m in existing["matchers"]
    ]
    ends = dt.datetime.fromisoformat(existing["endsAt"].replace("Z", "+00:00"))
    return have == wanted and abs((ends - planned.ends).total_seconds()) < 1


def apply(alertmanager: Alertmanager, planned: Iterable[PlannedSilence]) -> ApplyResult:
    """Make Alertmanager hold the planned silences (and no stale ones of ours); idempotent."""
    ours: dict[str, dict[str, Any]] = {}
    for silence in alertmanager.silences():
        if silence.get("createdBy") != CREATED_BY or silence["status"]["state"] == "expired":
            continue
        comment = silence.get("comment", "")
        ours[comment.split(": ", 1)[0]] = silence
    result = ApplyResult([], [], [])
    for silence in planned:
        existing = ours.pop(silence.key, None)
        if existing is not None and _same(existing, silence):
            result.unchanged.append(silence.key)
            continue
        if existing is not None:
            alertmanager.expire(existing["id"])
        alertmanager.create(silence)
        result.created.append(silence.key)
    for key, stale in ours.items():
        alertmanager.expire(stale["id"])
        result.expired.append(key)
    return result
