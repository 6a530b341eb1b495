"""The ``stadtnetz`` command line: one entry point, one subcommand per job.

Owns argument parsing, exit codes and what the user reads on the terminal;
the work itself happens in the modules each subcommand calls.
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from stadtnetz import __version__
from stadtnetz.cli.common import (
    EXIT_CONFIG,
    EXIT_RUNTIME,
    config_option,
    console,
    listen_option,
    load_config,
    out,
    setup_logging,
    until_signal,
)

if TYPE_CHECKING:
    from simulators.netns import Namespace
    from simulators.runner import Simulation
    from stadtnetz.app.service import Service


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="stadtnetz")
def main() -> None:
    """stadtnetz: monitoring for the networks a German municipal utility runs.

    Fibre backbone, public WLAN hotspots and the modems of EV charging points,
    polled over SNMP and pinged, each device's status told apart (down, or
    unreachable behind a failed upstream), published to Prometheus. Start with
    `stadtnetz demo`.
    """


@main.command()
@click.option(
    "--control",
    default="127.0.0.1:9874",
    show_default=True,
    metavar="HOST:PORT",
    help="Serve the control API here (POST /scenario); 0 as port picks a free one, 'off' disables it.",
)
@click.option(
    "--scenario",
    "scenario_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Play a scenario file: one 'AT COMMAND' per line, e.g. '30s fibre-cut dist-003'.",
)
@click.option(
    "--devices",
    "-n",
    type=click.IntRange(min=3),
    default=650,
    show_default=True,
    help="How many devices the city has (650 gives 520 hotspots).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed always gives the same city.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=1161,
    show_default=True,
    help="UDP port every simulated device answers SNMP on (0 picks a free one; 161 with --netns).",
)
@click.option("--community", default="public", show_default=True, help="SNMP v1/v2c community the devices accept.")
@click.option(
    "--write-inventory",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the city as a CSV inventory the collector can read.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: run until Ctrl-C or SIGTERM).",
)
@click.option(
    "--netns",
    is_flag=True,
    help="Root: serve the city inside a network namespace of its own (devices on 198.19.x.y behind a "
    "TUN device), answering ping and SNMP with per-device latency, jitter, loss and faults; the "
    "namespace is named in the ready line and deleted on exit. Without root: a warning, then "
    "loopback, where the kernel answers every ping.",
)
@click.option(
    "--ocpp",
    "ocpp_url",
    default=None,
    metavar="URL",
    callback=lambda _ctx, _param, value: _central_system_option(value),
    help="Run the city's EV chargers as OCPP 1.6J clients of this central system (ws:// or wss:// on "
    "127.0.0.0/8, e.g. ws://127.0.0.1:9000/ocpp; each dials URL/<charger id>, cp-001 ...).",
)
@click.option(
    "--ocpp-password",
    "ocpp_password",
    default=None,
    metavar="REF",
    callback=lambda _ctx, _param, value: _charger_password_option(value),
    help="The HTTP Basic password every simulated charger presents with --ocpp (the central system's "
    "ocpp.password): a reference, ${ENV_VAR} or file:PATH, never the password itself.",
)
def simulate(
    devices: int,
    seed: int,
    port: int,
    community: str,
    write_inventory: Path | None,
    duration: float | None,
    netns: bool,
    control: str,
    scenario_file: Path | None,
    ocpp_url: str | None,
    ocpp_password: str | None,
) -> None:
    """Serve a simulated city over SNMP on loopback addresses (127.20.x.y), until stopped.

    Every device answers on its own loopback address; try
    `snmpwalk -v2c -c public -On 127.20.0.1:1161 1.3.6.1.2.1.1`.

    With --netns (root) the devices live on 198.19.x.y inside a network
    namespace the simulator creates (its own address there is 198.18.0.1):
    pings and SNMP see each device's link (backbone below 1 ms, hotspots a few
    ms, LTE charger modems tens of ms and ~1 % loss) and its faults. Reach it
    from inside: `ip netns exec NAME fping 198.19.0.1`,
    `ip netns exec NAME snmpget -v2c -c public 198.19.0.1:1161 1.3.6.1.2.1.1.5.0`.
    Nothing outside that namespace is changed.

    With --ocpp URL the city's charge points (one behind each charger modem)
    connect to that OCPP central system, charge, and drop off while their modem
    or a device above it is down (from the host's loopback, with --netns too);
    with --ocpp-password each presents that password (HTTP Basic, user = its id).

    Faults are switched at run time through the control API (`stadtnetz
    scenario http://127.0.0.1:9874 fibre-cut dist-003`) or a --scenario file.
    """
    from simulators.netns import HomeSockets
    from simulators.scenarios import ScenarioError, load_scenario_file

    try:
        events = load_scenario_file(scenario_file) if scenario_file else []
    except ScenarioError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(EXIT_CONFIG)
    namespace = None
    home: HomeSockets | None = None
    try:
        control_socket = _control_socket(control)  # made before entering a namespace: reachable from the host
        if netns:
            if ocpp_url is not None:  # the chargers dial the central system on the host's loopback
                home = HomeSockets()
            namespace = _enter_simulator_namespace()
        dial_from = home.socket if home is not None and namespace is not None else None
        asyncio.run(
            _simulate(
                devices,
                seed,
                port,
                community.encode(),
                write_inventory,
                duration,
                namespace,
                control_socket,
                events,
                ocpp_url,
                dial_from,
                ocpp_password,
            )
        )
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
    finally:
        if namespace is not None:
            _delete_simulator_namespace(namespace)
        if home is not None:
            home.close()


def _charger_password_option(value: str | None) -> str | None:
    """The password behind a ${ENV_VAR} or file:PATH reference; a literal is refused (it would sit in `ps`)."""
    if value is None:
        return None
    from stadtnetz.secrets import SecretError, is_reference, resolve

    if not is_reference(value):
        raise click.BadParameter(
            "give a reference, ${ENV_VAR} or file:PATH, not the password itself", param_hint="--ocpp-password"
        )
    try:
        password = resolve(value).reveal()
    except SecretError as exc:
        raise click.BadParameter(str(exc), param_hint="--ocpp-password") from None
    if not password:
        raise click.BadParameter(f"{value} is empty", param_hint="--ocpp-password")
    return password


def _central_system_option(value: str | None) -> str | None:
    if value is None:
        return None
    from simulators.charge_points import central_system_url

    try:
        return central_system_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ocpp") from None


def _control_socket(control: str) -> socket.socket | None:
    if control.lower() == "off":
        return None
    from simulators.control import listening_socket
    from stadtnetz.config import parse_listen

    try:
        host, port = parse_listen(control)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--control") from None
    try:
        return listening_socket(host, port)
    except OSError:
        console.print(f"control port {port} is taken; using a free one", highlight=False)
        return listening_socket(host, 0)


def _enter_simulator_namespace() -> Namespace | None:
    """Create the simulator's namespace and move this (main) thread into it; None (and a warning) without root."""
    from simulators import netns

    # SIGTERM during start-up must still run the `finally` that deletes the namespace
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        namespace = netns.create_namespace()
    except PermissionError as exc:
        console.print(
            f"[yellow]warning:[/yellow] --netns: {exc}. Falling back to loopback addresses (127.20.x.y): the "
            "kernel answers every ping there, so ping latency, loss and down devices are not simulated "
            "(SNMP faults still are).",
            highlight=False,
            soft_wrap=True,
        )
        return None
    try:
        netns.enter_current_thread(namespace)
    except BaseException:
        _delete_simulator_namespace(namespace)
        raise
    return namespace


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _delete_simulator_namespace(namespace: Namespace) -> None:
    from simulators import netns

    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)  # a second Ctrl-C must not skip the cleanup
    try:
        netns.delete_namespace(namespace)
        console.print(f"network namespace {namespace.name} deleted", highlight=False)
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc}; delete it with `ip netns delete {namespace.name}`", highlight=False)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


async def _simulate(
    devices: int,
    seed: int,
    port: int,
    community: bytes,
    inventory: Path | None,
    duration: float | None,
    namespace: Namespace | None = None,
    control_socket: socket.socket | None = None,
    events: list[tuple[float, str]] | None = None,
    ocpp_url: str | None = None,
    dial_from: Callable[[int, int], socket.socket] | None = None,
    ocpp_password: str | None = None,
) -> None:
    """Serve the city (and with ``ocpp_url`` its chargers, dialling from ``dial_from``'s sockets and presenting
    ``ocpp_password``) until stopped."""
    from simulators.charge_points import ChargePoints
    from simulators.control import serve_control
    from simulators.runner import start_simulation
    from simulators.scenarios import Scenarios

    simulation = await start_simulation(
        devices, seed=seed, port=port, community=community, inventory=inventory, netns=namespace
    )
    scenarios = Scenarios(simulation.faults)
    if ocpp_url is not None and simulation.city.chargers:
        simulation.charge_points = scenarios.chargers = ChargePoints(
            simulation.city, ocpp_url, simulation.runtime, socket_factory=dial_from, password=ocpp_password
        )
        simulation.charge_points.start()
    control_runner, control_url = (None, "")
    if control_socket is not None:
        control_runner, control_url = await serve_control(scenarios, control_socket)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    counts = simulation.city.count_by_kind()
    first, last = simulation.city.devices[0].address, simulation.city.devices[-1].address
    table = Table(title=f"Simulated city, seed {seed}", show_header=True)
    table.add_column("kind")
    table.add_column("devices", justify="right")
    for kind, count in counts.items():
        table.add_row(kind, str(count))
    console.print(table)
    if inventory is not None:
        console.print(f"inventory written to {inventory}")
    where = f" netns {namespace.name}" if namespace is not None else ""
    if namespace is not None:
        console.print(
            f"devices answer ping and SNMP inside network namespace {namespace.name} (TUN sim0, own address "
            f"198.18.0.1); try: ip netns exec {namespace.name} fping {first}",
            highlight=False,
            soft_wrap=True,
        )
    control_text = f" control {control_url}" if control_url else ""
    charge_points = simulation.charge_points
    chargers_text = ""
    if charge_points is not None:
        chargers_text = f" chargers {len(charge_points)} {charge_points.base_url}"
        console.print(
            f"{charge_points.summary()} dial {charge_points.base_url}/<charger id> (cp-001 behind charger-001, ...)",
            highlight=False,
            soft_wrap=True,
        )
    elif ocpp_url is not None:
        console.print(f"the city has no charge points with {devices} devices: --ocpp does nothing", highlight=False)
    # one plain line on stdout that scripts wait for
    out.print(
        f"ready: {len(simulation.city.devices)} devices on {first} .. {last} UDP port {simulation.port}{where}"
        f"{control_text}{chargers_text}",
        highlight=False,
        soft_wrap=True,
    )
    sys.stdout.flush()
    player = asyncio.create_task(scenarios.play(events or [], lambda text: console.print(text, highlight=False)))
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration if duration is not None else math.inf)
    player.cancel()
    if control_runner is not None:
        await control_runner.cleanup()
    await simulation.close()
    if charge_points is not None:
        console.print(charge_points.stats(), highlight=False)
    stats = simulation.agent.stats
    responder = simulation.responder
    unknown = responder.stats.unknown_destination if responder is not None else stats.unknown_destination
    console.print(
        f"stopped: {stats.requests} requests answered, {stats.malformed} malformed, "
        f"{stats.bad_community} wrong community, {unknown} to unknown addresses",
        soft_wrap=True,
    )
    if responder is not None:
        wire = responder.stats
        console.print(
            f"pings: {wire.echo_replies} answered; {wire.lost} pings and SNMP requests lost on simulated links, "
            f"{wire.silent} to silent devices; {wire.malformed} malformed and {wire.unsupported} unsupported "
            "packets dropped",
            highlight=False,
            soft_wrap=True,
        )


@main.command()
@config_option("The YAML configuration to check (e.g. config/example-city.yaml).")
def check(config_path: Path) -> None:
    """Check a configuration: every problem as FILE:LINE: field: message, or a summary of the inventory.

    Exits 0 if the configuration is usable, 2 if not. Secrets are never printed.
    """
    from stadtnetz.cli.check import run_check

    sys.exit(run_check(config_path, out, errors=console))


@main.command()
@config_option("The YAML configuration (see config/example-city.yaml).")
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Poll only this process's share: shard I of N (1-based), rendezvous hashing on device id.",
)
@click.option("--listen", default=None, metavar="HOST:PORT", help="Serve /metrics here instead of settings.listen.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
)
def run(config_path: Path, shard: str | None, listen: str | None, log_level: str) -> None:
    """Poll every device of the configuration on schedule and serve /metrics, until Ctrl-C or SIGTERM."""
    from stadtnetz.app.scheduler import parse_shard, shard_devices
    from stadtnetz.app.service import Service

    setup_logging(log_level)
    host, port = listen_option(listen)
    try:
        index, count = parse_shard(shard) if shard else (0, 1)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    inventory, library = load_config(config_path)
    devices = shard_devices(inventory.devices, index, count)

    async def serve() -> None:
        service = Service(inventory, library, devices, listen_host=host, listen_port=port)
        stop = await until_signal(None)
        url = await service.start()
        share = f" (shard {index + 1}/{count} of {len(inventory.devices)})" if count > 1 else ""
        console.print(f"polling {len(devices)} devices{share}; metrics at {url}metrics", highlight=False)
        try:
            await stop.wait()
        finally:
            await service.stop()

    try:
        asyncio.run(serve())
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_RUNTIME)


@main.command()
@click.option(
    "--netns/--no-netns",
    default=None,
    help="Put the simulated city in its own network namespace, so ping sees each device's latency, loss and "
    "faults (needs root; the default when running as root).",
)
@click.option(
    "--control",
    default="127.0.0.1:9874",
    show_default=True,
    metavar="HOST:PORT",
    help="The simulator's control API for faults (stadtnetz scenario URL fibre-cut dist-003); 'off' disables it.",
)
@click.option(
    "--devices",
    "-n",
    type=click.IntRange(min=3),
    default=650,
    show_default=True,
    help="Devices in the simulated city (650 gives 520 hotspots).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: until Ctrl-C).",
)
@click.option(
    "--listen", default="127.0.0.1:9873", show_default=True, metavar="HOST:PORT", help="Where /metrics is served."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Seconds between polls of each device.",
)
@click.option(
    "--sim-port",
    type=click.IntRange(0, 65535),
    default=1161,
    show_default=True,
    help="UDP port of the simulated devices (a free one if taken).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Which simulated city.")
def demo(
    devices: int,
    duration: float | None,
    listen: str,
    interval: float,
    sim_port: int,
    seed: int,
    netns: bool | None,
    control: str,
) -> None:
    """The simulated city and the collector polling it, in one process: /metrics in seconds, no setup.

    As root the city gets its own network namespace and is pinged as well as
    polled; otherwise it stays on loopback addresses and is polled over SNMP
    only (the kernel would answer every ping for it).
    """
    from simulators.control import listening_socket
    from stadtnetz.app.demo import run_demo

    setup_logging("warning")
    host, port = listen_option(listen)
    assert host is not None and port is not None
    try:  # both made here, in the host's namespace, so they stay reachable from it
        listen_socket = listening_socket(host, port)
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot listen on {listen}: {exc.strerror}; choose another with --listen")
        sys.exit(EXIT_RUNTIME)
    control_socket = _control_socket(control)
    namespace = None
    if netns is True or (netns is None and os.geteuid() == 0):
        namespace = _enter_simulator_namespace()

    def announce(url: str, control_url: str, simulation: Simulation, service: Service) -> None:
        counts = simulation.city.count_by_kind()
        first = simulation.city.devices[0]
        summary = f"simulated city: {len(simulation.city.devices)} devices ({counts['hotspot']} hotspots)"
        if namespace is not None:
            console.print(
                f"{summary} in network namespace {namespace.name}, pinged and polled; try: ip netns exec "
                f"{namespace.name} snmpwalk -v2c -c public {first.address}:{simulation.port} 1.3.6.1.2.1.1",
                highlight=False,
                soft_wrap=True,
            )
        else:
            console.print(
                f"{summary} on 127.20.x.y UDP port {simulation.port}, polled over SNMP only (on loopback the kernel "
                f"would answer every ping; run as root for a namespace); try: snmpwalk -v2c -c public "
                f"{first.address}:{simulation.port} 1.3.6.1.2.1.1",
                highlight=False,
                soft_wrap=True,
            )
        console.print(f"collector polling every {interval:g} s; first values within {interval:g} s", highlight=False)
        if simulation.charge_points is not None:
            inside = f" (inside network namespace {namespace.name})" if namespace is not None else ""
            console.print(
                f"{simulation.charge_points.summary()} on {service.ocpp_url}{inside}, OCPP 1.6J over WebSocket",
                highlight=False,
                soft_wrap=True,
            )
        if control_url:
            console.print(f"faults: stadtnetz scenario {control_url} fibre-cut dist-003", highlight=False)
            if simulation.charge_points is not None:
                console.print(
                    f"        stadtnetz scenario {control_url} charger-fault cp-007 connector=1 error=GroundFailure",
                    highlight=False,
                    soft_wrap=True,
                )
        out.print(f"metrics: {url}metrics", highlight=False, soft_wrap=True)
        sys.stdout.flush()

    async def start() -> None:
        stop = await until_signal(duration)
        await run_demo(devices, seed, sim_port, listen_socket, control_socket, interval, stop, announce, namespace)

    try:
        asyncio.run(start())
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(EXIT_RUNTIME)
    finally:
        if namespace is not None:
            _delete_simulator_namespace(namespace)


@main.command()
@config_option("The YAML configuration the device is in.")
@click.option(
    "--rate",
    "gap",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Poll twice, this many seconds apart, to show counter rates.",
)
@click.argument("device_id")
def poll(config_path: Path, gap: float, device_id: str) -> None:
    """Poll one device now and show every series it yields, as a table.

    Exit code 1 if the device does not answer.
    """
    from collectors.snmp.poller import poll_once
    from stadtnetz.clock import SystemClock
    from stadtnetz.model import MetricKind, PollStatus

    inventory, library = load_config(config_path)
    device = inventory.by_id().get(device_id)
    if device is None:
        close = sorted(d.id for d in inventory.devices if device_id.lower() in d.id.lower())[:5]
        hint = f" (similar: {', '.join(close)})" if close else ""
        console.print(f"no device {device_id!r} in {config_path}{hint}", highlight=False)
        sys.exit(EXIT_CONFIG)
    state = asyncio.run(poll_once(inventory, library, device, SystemClock(), gap))[device.id]
    if state.status is not PollStatus.OK:
        console.print(f"{device.id} ({device.endpoint}): {state.status.value}: {state.error}", highlight=False)
        sys.exit(EXIT_RUNTIME)
    table = Table(title=f"{device.id} ({device.kind}, {device.endpoint}) in {state.poll_seconds * 1000:.0f} ms")
    table.add_column("metric")
    table.add_column("labels")
    table.add_column("value", justify="right")
    if gap:
        table.add_column("rate /s", justify="right")
    for metric, labels, value in state.series():
        row = [metric.exported_name, labels.text.lstrip(","), f"{value:g}" if isinstance(value, float) else str(value)]
        if gap:
            rate = state.value(metric, labels) if metric.kind is MetricKind.COUNTER else math.nan
            row.append("" if math.isnan(rate) else f"{rate:,.1f}")
        table.add_row(*row)
    out.print(table)


@main.command()
@click.argument("url")
@click.argument("command", nargs=-1, required=True)
def scenario(url: str, command: tuple[str, ...]) -> None:
    """Switch a fault on a running simulator: stadtnetz scenario http://127.0.0.1:9874 fibre-cut dist-003

    Commands: fibre-cut, repair, flap, degrade, reboot, silence, restore, slow, interface-down,
    interface-up, counter-wrap, degrade-optics; with chargers running (the demo, simulate --ocpp)
    charger-fault, charger-clear, charger-offline, charger-online, charger-reboot
    (GET URL/scenarios lists their options).
    Exit code 2 if the simulator refuses the command, 1 if it cannot be reached.
    """
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url.rstrip("/") + "/scenario",
        data=" ".join(command).encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            out.print(json.load(response)["done"], highlight=False)
    except urllib.error.HTTPError as exc:
        console.print(f"[red]refused:[/red] {escape(str(json.load(exc).get('error', exc.reason)))}", highlight=False)
        sys.exit(EXIT_CONFIG)
    except (urllib.error.URLError, OSError) as exc:
        console.print(f"[red]error:[/red] cannot reach the simulator at {escape(url)}: {escape(str(exc))}")
        sys.exit(EXIT_RUNTIME)


def _register_subcommands() -> None:
    from stadtnetz.cli.maintenance import maintenance
    from stadtnetz.cli.report import report
    from stadtnetz.cli.report_chargers import chargers_report

    report.add_command(chargers_report)
    main.add_command(maintenance)
    main.add_command(report)


_register_subcommands()
