"""``stadtnetz run`` as a child process, as operators run it: on a free port of 127.0.0.1, stopped by its PID.

Ready once ``/healthz`` says ok (unless told not to wait); ``get`` and ``metrics``
read its HTTP endpoints.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from tests.support.processes import Daemon, free_port


class ServiceProcess:
    def __init__(
        self,
        config: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.daemon = Daemon(
            [sys.executable, "-m", "stadtnetz.cli", "run", "-c", str(config), "--listen", f"127.0.0.1:{self.port}"],
            log_path,
            env=env,
            cwd=cwd,
        )
        if wait:
            self.daemon.wait_ready(self.healthy, timeout, "the service")

    def get(self, path: str, timeout: float = 10.0) -> str:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as response:
            return response.read().decode()

    def metrics(self) -> str:
        return self.get("/metrics")

    def healthy(self) -> bool:
        try:
            return json.loads(self.get("/healthz"))["status"] == "ok"
        except (OSError, ValueError):
            return False

    def stop(self, timeout: float = 5.0) -> None:
        self.daemon.stop(timeout)
