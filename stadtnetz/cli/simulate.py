"""``stadtnetz simulate`` and ``stadtnetz scenario``: serve a simulated city, and switch faults on a running one.

Owns these commands' options, output and exit codes, the ``--ocpp`` and
``--ocpp-password`` values, the control API's listening socket and the
simulator's network namespace (created, entered, deleted); ``stadtnetz demo``
uses the last two as well. The city itself is :mod:`simulators`'.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from stadtnetz.cli.common import EXIT_CONFIG, EXIT_RUNTIME, console, out

if TYPE_CHECKING:
    from collectors.snmp.usm import UsmUser
    from simulators.netns import Namespace


@click.command()
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
    "--v3-user",
    "v3_users",
    multiple=True,
    metavar="USER:AUTH:REF:PRIV:REF",
    callback=lambda _ctx, _param, values: tuple(_v3_user_option(value) for value in values),
    help="An SNMPv3 user every device knows (repeatable), e.g. noc:sha256:${AUTH}:aes:${PRIV}: protocols as in "
    "the credentials (none, md5, sha, sha224..sha512 / none, des, aes, aes192, aes256, aes192c, aes256c), keys as "
    "references, ${ENV_VAR} or file:PATH, never the passphrases themselves; 'noc:none' has no keys.",
)
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
    v3_users: tuple[UsmUser, ...],
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
        control_socket = open_control_socket(control)  # made before entering a namespace: reachable from the host
        if netns:
            if ocpp_url is not None:  # the chargers dial the central system on the host's loopback
                home = HomeSockets()
            namespace = enter_simulator_namespace()
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
                v3_users,
            )
        )
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
    finally:
        if namespace is not None:
            delete_simulator_namespace(namespace)
        if home is not None:
            home.close()


def _resolved_option(reference: str, option: str, what: str) -> str:
    """The secret behind a ${ENV_VAR} or file:PATH reference; a literal is refused (it would sit in `ps`)."""
    from stadtnetz.secrets import SecretError, is_reference, resolve

    if not is_reference(reference):
        message = f"give a reference, ${{ENV_VAR}} or file:PATH, not the {what} itself"
        raise click.BadParameter(message, param_hint=option)
    try:
        return resolve(reference).reveal()
    except SecretError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _charger_password_option(value: str | None) -> str | None:
    """The password behind ``--ocpp-password``'s reference."""
    if value is None:
        return None
    password = _resolved_option(value, "--ocpp-password", "password")
    if not password:
        raise click.BadParameter(f"{value} is empty", param_hint="--ocpp-password")
    return password


def _v3_user_option(value: str) -> UsmUser:
    """USER:AUTH:REF:PRIV:REF (or USER:AUTH:REF, USER:none) with the passphrases behind the references."""
    from collectors.snmp.usm import UsmUser

    fields = value.split(":")
    # a file: reference holds a colon itself: glue "file" and the path back together
    parts: list[str] = []
    for field in fields:
        if parts and parts[-1] == "file":
            parts[-1] = f"file:{field}"
        else:
            parts.append(field)
    name, protocols = parts[0], parts[1:]
    if len(protocols) not in (1, 2, 4) or (len(protocols) == 1 and protocols[0] != "none"):
        raise click.BadParameter(f"{value.split(':')[0]}: write USER:AUTH:REF:PRIV:REF", param_hint="--v3-user")
    keys = [_resolved_option(reference, "--v3-user", "passphrase").encode() for reference in protocols[1::2]]
    auth = protocols[0]
    priv = protocols[2] if len(protocols) == 4 else "none"
    try:
        return UsmUser(name.encode(), auth, keys[0] if keys else None, priv, keys[1] if len(keys) > 1 else None)
    except ValueError as exc:
        raise click.BadParameter(f"user {name!r}: {exc}", param_hint="--v3-user") from None


def _central_system_option(value: str | None) -> str | None:
    if value is None:
        return None
    from simulators.charge_points import central_system_url

    try:
        return central_system_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ocpp") from None


def open_control_socket(control: str) -> socket.socket | None:
    """The control API's listening socket on ``control`` (HOST:PORT, a free port if taken); None for 'off'."""
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


def enter_simulator_namespace() -> Namespace | None:
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
        delete_simulator_namespace(namespace)
        raise
    return namespace


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def delete_simulator_namespace(namespace: Namespace) -> None:
    """Delete the simulator's namespace, SIGINT and SIGTERM blocked meanwhile; a failure is printed, not raised."""
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
    v3_users: tuple[UsmUser, ...] = (),
) -> None:
    """Serve the city (and with ``ocpp_url`` its chargers, dialling from ``dial_from``'s sockets and presenting
    ``ocpp_password``) until stopped."""
    from simulators.charge_points import ChargePoints
    from simulators.control import serve_control
    from simulators.runner import start_simulation
    from simulators.scenarios import Scenarios

    simulation = await start_simulation(
        devices, seed=seed, port=port, community=community, inventory=inventory, netns=namespace, v3_users=v3_users
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


@click.command()
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
