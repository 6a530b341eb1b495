"""A real Alertmanager for tests: started with a given config in a temp dir, used over its API v2."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.processes import Daemon, free_port


class Alertmanager:
    def __init__(self, directory: Path, config: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / "alertmanager.yml"
        self.config_path.write_text(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.daemon = Daemon(
            [
                "prometheus-alertmanager",
                f"--config.file={self.config_path}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # else it listens for peers on 0.0.0.0:9094
            ],
            directory / "alertmanager.log",
        )
        self.daemon.wait_ready(self._ready, 30, "alertmanager")

    def _ready(self) -> bool:
        try:
            return urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).status == 200
        except OSError:
            return False

    def api(self, path: str, body: object | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/api/v2/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def silences(self, state: str | None = None) -> list[dict[str, Any]]:
        found = self.api("silences")
        return [s for s in found if state is None or s["status"]["state"] == state]

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")

    def stop(self) -> None:
        self.daemon.stop()


MINIMAL_CONFIG = """\
route:
  receiver: nobody
  group_wait: 1s
receivers:
  - name: nobody
"""
