"""A real nginx as the reverse proxy in front of a time-series database, as InfluxDB often runs in production.

Started in a temp dir on a free port of 127.0.0.1 (master in the foreground,
``daemon off``), proxying everything to one upstream URL on 127.0.0.1, with
``client_max_body_size`` set so that large write requests get nginx's own
HTTP 413. Stopped with SIGTERM by its own PID.
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.processes import Daemon, free_port

CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
user root;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size {max_body};
        location / {{ proxy_pass {upstream}; }}
    }}
}}
"""


class ReverseProxy:
    """nginx on 127.0.0.1:<free port> in front of ``upstream``, refusing bodies over ``max_body`` with 413."""

    def __init__(self, directory: Path, upstream: str, max_body: str = "1m") -> None:
        if not upstream.startswith("http://127."):
            raise ValueError(f"the proxy only forwards to this machine's loopback, not {upstream}")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "nginx.conf"
        config.write_text(CONFIG.format(dir=directory, port=self.port, upstream=upstream, max_body=max_body))
        self.daemon = Daemon(["nginx", "-p", str(directory), "-c", str(config)], directory / "nginx.out")
        self.daemon.wait_ready(self._listening, 15, "nginx")

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        self.daemon.stop()
