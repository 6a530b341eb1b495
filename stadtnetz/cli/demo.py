"""``stadtnetz demo``: the simulated city and the collector polling it, in one process.

Owns the command's options and what it announces on the terminal; the wiring
of city and service is :func:`stadtnetz.app.demo.run_demo`'s, the control
socket and the network namespace come from :mod:`stadtnetz.cli.simulate`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING

import click

from stadtnetz.cli.common import EXIT_RUNTIME, console, listen_option, out, setup_logging, until_signal
from stadtnetz.cli.simulate import delete_simulator_namespace, enter_simulator_namespace, open_control_socket

if TYPE_CHECKING:
    from simulators.runner import Simulation
    from stadtnetz.app.service import Service


@click.command()
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
@click.option(
    "--snmp-v3",
    is_flag=True,
    help="The devices answer SNMPv3 only (user demo, authPriv SHA-256/AES-128, passphrases made for the run in "
    "files only you can read) and are polled that way.",
)
def demo(
    devices: int,
    duration: float | None,
    listen: str,
    interval: float,
    sim_port: int,
    seed: int,
    netns: bool | None,
    control: str,
    snmp_v3: bool,
) -> None:
    """The simulated city and the collector polling it, in one process: /metrics in seconds, no setup.

    As root the city gets its own network namespace and is pinged as well as
    polled; otherwise it stays on loopback addresses and is polled over SNMP
    only (the kernel would answer every ping for it).
    """
    from simulators.control import listening_socket
    from stadtnetz.app.demo import DEMO_CREDENTIALS, run_demo

    setup_logging("warning")
    host, port = listen_option(listen)
    assert host is not None and port is not None
    try:  # both made here, in the host's namespace, so they stay reachable from it
        listen_socket = listening_socket(host, port)
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot listen on {listen}: {exc.strerror}; choose another with --listen")
        sys.exit(EXIT_RUNTIME)
    control_socket = open_control_socket(control)
    namespace = None
    if netns is True or (netns is None and os.geteuid() == 0):
        namespace = enter_simulator_namespace()

    def announce(url: str, control_url: str, simulation: Simulation, service: Service) -> None:
        counts = simulation.city.count_by_kind()
        first = simulation.city.devices[0]
        summary = f"simulated city: {len(simulation.city.devices)} devices ({counts['hotspot']} hotspots)"
        walk = "snmpwalk -v2c -c public"
        user = service.inventory.credentials[DEMO_CREDENTIALS].user
        if user is not None and user.auth_key is not None and user.priv_key is not None:
            auth, priv = (key.source.removeprefix("file:") for key in (user.auth_key, user.priv_key))
            walk = f'snmpwalk -v3 -l authPriv -u demo -a SHA-256 -A "$(cat {auth})" -x AES -X "$(cat {priv})"'
        if namespace is not None:
            console.print(
                f"{summary} in network namespace {namespace.name}, pinged and polled; try: ip netns exec "
                f"{namespace.name} {walk} {first.address}:{simulation.port} 1.3.6.1.2.1.1",
                highlight=False,
                soft_wrap=True,
            )
        else:
            console.print(
                f"{summary} on 127.20.x.y UDP port {simulation.port}, polled over SNMP only (on loopback the kernel "
                f"would answer every ping; run as root for a namespace); try: {walk} "
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
        out.print(f"status page: {url} (public: {url}public)", highlight=False, soft_wrap=True)
        out.print(f"metrics: {url}metrics", highlight=False, soft_wrap=True)
        sys.stdout.flush()

    async def start() -> None:
        stop = await until_signal(duration)
        await run_demo(
            devices, seed, sim_port, listen_socket, control_socket, interval, stop, announce, namespace, history=True,
            snmp_v3=snmp_v3,
        )

    try:
        asyncio.run(start())
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(EXIT_RUNTIME)
    finally:
        if namespace is not None:
            delete_simulator_namespace(namespace)
