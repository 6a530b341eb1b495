"""`stadtnetz demo --snmp-v3`: the simulated city answers SNMPv3 only, and the demo's collector polls it that way.

The passphrases are made for the run and kept in files only their owner can read (the demo announces an
`snmpwalk -v3` that reads them); net-snmp's snmpget with them reads a device, a v2c request gets no answer,
and every poll of the collector succeeds over v3 with no Report and no unauthentic answer.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path

from stadtnetz.app.demo import DEMO_CREDENTIALS
from tests.support.demo import ThreadedDemo
from tests.support.netsnmp import TOOL_ENV

DEVICES = 12
INTERVAL = 2.0
SYS_NAME = "1.3.6.1.2.1.1.5.0"


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_the_v3_demo_polls_over_v3_and_refuses_communities() -> None:
    with ThreadedDemo(devices=DEVICES, interval=INTERVAL, snmp_v3=True) as demo:
        assert demo.service is not None and demo.simulation is not None
        user = demo.service.inventory.credentials[DEMO_CREDENTIALS].user
        assert user is not None and (user.auth_protocol, user.priv_protocol) == ("sha256", "aes")
        assert user.auth_key is not None and user.priv_key is not None
        files = [Path(key.source.removeprefix("file:")) for key in (user.auth_key, user.priv_key)]
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file

        deadline = time.monotonic() + 30
        text = demo.metrics()
        while sample(text, 'stadtnetz_polls_total{result="ok"}') < 2 * DEVICES and time.monotonic() < deadline:
            time.sleep(0.5)
            text = demo.metrics()
        assert sample(text, 'stadtnetz_polls_total{result="ok"}') >= 2 * DEVICES, text[:2000]
        assert sample(text, 'stadtnetz_polls_total{result="error"}') == 0
        assert sample(text, 'stadtnetz_polls_total{result="timeout"}') == 0
        assert sample(text, "stadtnetz_snmp_engine_discoveries_total") == DEVICES
        assert sample(text, "stadtnetz_snmp_unauthentic_packets_total") == 0
        assert not re.search(r'^stadtnetz_snmp_usm_reports_total\{kind="\w+"\} [1-9]', text, re.MULTILINE)

        first = demo.simulation.city.devices[0]
        endpoint = f"{first.address}:{demo.simulation.port}"
        auth, priv = (file.read_text() for file in files)
        env = {**os.environ, **TOOL_ENV}
        v3 = subprocess.run(
            ["snmpget", "-v3", "-l", "authPriv", "-u", "demo", "-a", "SHA-256", "-A", auth, "-x", "AES", "-X", priv,
             "-On", "-t", "2", "-r", "1", endpoint, SYS_NAME],
            capture_output=True, text=True, timeout=30, env=env,
        )
        assert v3.returncode == 0 and first.id in v3.stdout, v3.stdout + v3.stderr
        v2c = subprocess.run(
            ["snmpget", "-v2c", "-c", "public", "-On", "-t", "0.5", "-r", "0", endpoint, SYS_NAME],
            capture_output=True, text=True, timeout=30, env=env,
        )
        assert v2c.returncode != 0 and "Timeout" in v2c.stdout + v2c.stderr
        for secret in (auth, priv):
            assert secret not in text
