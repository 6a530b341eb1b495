"""Sends the dashboards to a Grafana server over its HTTP API: two documented calls, urllib only, no SDK.

Owns the upload: ``POST /api/folders`` makes the folder (uid ``stadtnetz``; an answer that it exists already,
409 or 412, is fine), then ``POST /api/dashboards/db`` with ``{"dashboard", "folderUid", "overwrite": true,
"message"}`` per dashboard, each with ``Authorization: Bearer <token>`` (a Grafana service account token). The
token is a :class:`~stadtnetz.secrets.Secret`: it is revealed only into that header and never appears in an
error message, even if the server echoed it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stadtnetz.secrets import Secret

FOLDER_UID = "stadtnetz"
EXISTS = (409, 412)  # POST /api/folders: the folder is there already


class GrafanaError(RuntimeError):
    """Grafana could not be reached or refused a request; the message names what and never holds the token."""


@dataclass(frozen=True, slots=True)
class Uploaded:
    uid: str
    title: str
    url: str  # where Grafana shows it (its answer's "url"), relative to the server
    version: int


def read_dashboards(folder: Path) -> list[dict[str, Any]]:
    """The dashboard JSON files of ``folder`` (``*.json``), in name order."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise GrafanaError(f"{path}: not a dashboard file: {exc}") from None
    if not found:
        raise GrafanaError(f"{folder}: no dashboard files (*.json); run `stadtnetz dashboards build` first")
    return found


class Grafana:
    """A Grafana server's base URL and the token to call it with."""

    def __init__(self, url: str, token: Secret, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise GrafanaError(f"{url}: the Grafana URL must start with http:// or https://")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _scrub(self, text: str) -> str:
        secret = self.token.reveal()
        return text.replace(secret, "***") if secret else text

    def post(self, path: str, body: dict[str, Any], ok: Iterable[int] = ()) -> tuple[int, dict[str, Any]]:
        """POST ``body`` as JSON; the status and the answer's JSON, or :class:`GrafanaError` (unless in ``ok``)."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {self.token.reveal()}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            answer = _json(exc.read())
            if exc.code in set(ok):
                return exc.code, answer
            said = self._scrub(str(answer.get("message") or "").strip())
            if exc.code in (401, 403):
                raise GrafanaError(
                    f"Grafana at {self.url} refused the token (HTTP {exc.code}{': ' + said if said else ''}); it "
                    "needs a service account token with the Editor role (folders and dashboards)"
                ) from None
            raise GrafanaError(f"{path}: HTTP {exc.code}{': ' + said if said else ''}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GrafanaError(f"cannot reach Grafana at {self.url}: {self._scrub(str(reason))}") from None


def _json(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data or b"{}")
    except ValueError:
        return {"message": data[:200].decode("utf-8", "replace")}
    return parsed if isinstance(parsed, dict) else {"message": str(parsed)[:200]}


def upload(grafana: Grafana, dashboards: Iterable[dict[str, Any]], folder: str = "Stadtnetz",
           message: str = "stadtnetz dashboards upload") -> list[Uploaded]:
    """Make the folder (if missing) and put every dashboard into it, replacing the one of the same uid."""
    grafana.post("/api/folders", {"uid": FOLDER_UID, "title": folder}, ok=EXISTS)
    done = []
    for dashboard in dashboards:
        body = {"dashboard": {**dashboard, "id": None}, "folderUid": FOLDER_UID, "overwrite": True,
                "message": message}
        _, answer = grafana.post("/api/dashboards/db", body)
        done.append(Uploaded(str(answer.get("uid", dashboard.get("uid", ""))), str(dashboard.get("title", "")),
                             str(answer.get("url", "")), int(answer.get("version", 0) or 0)))
    return done
