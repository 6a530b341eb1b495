"""The service with chargers: configuration to /metrics, over TLS with passwords, and their place in the topology.

Real parts: the configuration file is loaded as an operator writes it, the service runs in
this process with its real HTTP and OCPP (wss://, security profile 2) servers on 127.0.0.1,
chargers are WebSocket clients sending OCPP-J frames, and the modem is polled over SNMP on
a port where nothing answers (so it is down, as a modem without power would be). The
certificate is made here, self-signed for 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
import textwrap
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from collectors.snmp.profiles import load_profiles
from stadtnetz.app.service import Service
from stadtnetz.config import load_inventory

OWN_PASSWORD = "cp1-Own-Passw0rd-7f3a"
SHARED_PASSWORD = "shared-Passw0rd-for-all-91c2"


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stadtnetz test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "ocpp.crt", directory / "ocpp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def silent_udp_port() -> socket.socket:
    """A bound UDP socket that never answers: the modem's SNMP agent is gone."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def write_config(directory: Path, modem_port: int) -> Path:
    self_signed(directory)
    (directory / "cp-1.password").write_text(OWN_PASSWORD + "\n")
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M+00:00")
    end = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M+00:00")
    config = directory / "stadtnetz.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            settings:
              listen: 127.0.0.1:0
            credentials:
              ro: {{community: "${{COMMUNITY}}"}}
            devices:
              - {{id: charger-001, kind: charger_modem, address: "127.0.0.1:{modem_port}", site: Parkhaus Altstadt,
                  district: Altstadt, credentials: ro, ping: false, interval: 1s, timeout: 200ms, retries: 0}}
            ocpp:
              listen: 127.0.0.1:0
              heartbeat_interval: 1s
              offline_after: 2
              password: ${{SHARED_PASSWORD}}
              tls: {{certificate: ocpp.crt, key: ocpp.key}}
            chargers:
              - {{id: cp-001, device: charger-001, connectors: 2, password: "file:cp-1.password"}}
              - {{id: cp-002, site: Rathaus, district: Altstadt, connectors: 1}}
            maintenance:
              - {{name: cp-002-service, match: {{devices: [cp-002]}}, start: "{start}", end: "{end}"}}
            """
        )
    )
    return config


def client_tls(directory: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(directory / "ocpp.crt"))
    return context


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def boot(ws: ClientConnection, connectors: int) -> None:
    frames = [["BootNotification", {"chargePointVendor": "Musterwerk", "chargePointModel": "DC50"}]]
    frames += [
        ["StatusNotification", {"connectorId": n, "errorCode": "NoError", "status": "Available"}]
        for n in range(connectors + 1)
    ]
    for number, (action, payload) in enumerate(frames):
        await ws.send(json.dumps([2, str(number), action, payload]))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer[0] == 3, answer


def scrape(url: str) -> list[str]:
    with urllib.request.urlopen(url + "metrics", timeout=5) as response:
        return [line for line in response.read().decode().splitlines() if line.startswith("stadtnetz_charger")]


async def wait_for_line(url: str, wanted: str, timeout: float = 10.0) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        lines = await asyncio.to_thread(scrape, url)
        if any(line.startswith(wanted) for line in lines):
            return lines
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{wanted} not in /metrics within {timeout} s:\n" + "\n".join(lines))
        await asyncio.sleep(0.2)


async def scenario(directory: Path, modem: socket.socket, caplog: pytest.LogCaptureFixture) -> None:
    config = write_config(directory, modem.getsockname()[1])
    inventory = load_inventory(config, environ={"COMMUNITY": "public", "SHARED_PASSWORD": SHARED_PASSWORD})
    service = Service(inventory, load_profiles(), inventory.devices)
    url = await service.start()
    try:
        assert service.ocpp_url.startswith("wss://127.0.0.1:")
        tls = client_tls(directory)
        # plain ws:// to the TLS port does not get in; a wrong password is refused
        with pytest.raises(Exception):  # noqa: B017 - any failure of the handshake will do
            async with connect(service.ocpp_url.replace("wss", "ws") + "/cp-002", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
                pass
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                service.ocpp_url + "/cp-001",
                ssl=tls,
                subprotocols=["ocpp1.6"],
                additional_headers=basic("cp-001", SHARED_PASSWORD),  # type: ignore[list-item]
            ):
                pass
        assert refused.value.response.status_code == 401
        # each with its password, over TLS
        async with (
            connect(
                service.ocpp_url + "/cp-001",
                ssl=tls,
                subprotocols=["ocpp1.6"],
                additional_headers=basic("cp-001", OWN_PASSWORD),  # type: ignore[list-item]
            ) as one,
            connect(
                service.ocpp_url + "/cp-002",
                ssl=tls,
                subprotocols=["ocpp1.6"],
                additional_headers=basic("cp-002", SHARED_PASSWORD),  # type: ignore[list-item]
            ) as two,
        ):
            await boot(one, 2)
            await boot(two, 1)
            lines = await wait_for_line(
                url,
                'stadtnetz_charger_status{charger="cp-002",district="Altstadt",root_cause="",site="Rathaus",status="online"}',
            )
            assert 'stadtnetz_charger_connector_state{charger="cp-001",connector="2",state="available"} 1.0' in lines
            assert (
                'stadtnetz_charger_info{charger="cp-001",device="charger-001",district="Altstadt",firmware="",'
                'model="DC50",site="Parkhaus Altstadt",vendor="Musterwerk"} 1.0'
            ) in lines
            assert 'stadtnetz_charger_maintenance{charger="cp-002",district="Altstadt",site="Rathaus"} 1.0' in lines
            assert (
                'stadtnetz_charger_maintenance{charger="cp-001",district="Altstadt",site="Parkhaus Altstadt"} 0.0'
                in lines
            )
        # both fall silent: cp-001 behind its dead modem is unreachable (the modem's fault), cp-002 offline (its own)
        lines = await wait_for_line(
            url, 'stadtnetz_charger_status{charger="cp-002",district="Altstadt",root_cause="cp-002"'
        )
        lines = await wait_for_line(
            url,
            'stadtnetz_charger_status{charger="cp-001",district="Altstadt",root_cause="charger-001",'
            'site="Parkhaus Altstadt",status="unreachable"}',
        )
        assert (
            'stadtnetz_charger_status{charger="cp-002",district="Altstadt",root_cause="cp-002",site="Rathaus",'
            'status="offline"} 1.0' in lines
        )
        assert 'stadtnetz_charger_connector_state{charger="cp-001",connector="1",state="out_of_service"} 1.0' in lines
        assert 'stadtnetz_charger_connector_state{charger="cp-002",connector="1",state="out_of_service"} 1.0' in lines
        everything = "\n".join(lines) + caplog.text
        assert OWN_PASSWORD not in everything and SHARED_PASSWORD not in everything
        assert "without credentials" not in caplog.text and "clear text" not in caplog.text  # closed, and TLS
    finally:
        await service.stop()


def test_chargers_over_tls_with_passwords_and_behind_their_modem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    modem = silent_udp_port()
    try:
        asyncio.run(asyncio.wait_for(scenario(tmp_path, modem, caplog), 60))
    finally:
        modem.close()


def test_auth_none_lets_ids_in_and_is_logged_as_a_warning_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = tmp_path / "stadtnetz.yaml"
    config.write_text(
        "settings:\n  listen: 127.0.0.1:0\n"
        "ocpp:\n  listen: 127.0.0.1:0\n  heartbeat_interval: 1s\n  auth: none\n"
        "chargers:\n  - {id: cp-001, connectors: 1}\n"
    )

    async def scenario() -> None:
        inventory = load_inventory(config)
        service = Service(inventory, load_profiles(), inventory.devices)
        await service.start()
        try:
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert any("OCPP endpoint accepts any charger id without credentials" in r.getMessage() for r in warnings)
            async with connect(service.ocpp_url + "/cp-001", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
                await boot(ws, 1)
        finally:
            await service.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
