"""The ``stadtnetz`` command line: one entry point, one subcommand per job.

Owns argument parsing, exit codes and what the user reads on the terminal;
the work itself happens in the modules each subcommand calls.
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from stadtnetz import __version__

console = Console(stderr=True)
out = Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="stadtnetz")
def main() -> None:
    """stadtnetz: monitoring for the networks a German municipal utility runs.

    Fibre backbone, public WLAN hotspots and EV charging points, polled over
    SNMP and ping and published to Prometheus and friends.
    """


@main.command()
@click.option("--devices", "-n", type=click.IntRange(min=3), default=650, show_default=True,
              help="How many devices the city has (650 gives 520 hotspots).")
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed always gives the same city.")
@click.option("--port", type=click.IntRange(0, 65535), default=1161, show_default=True,
              help="UDP port every simulated device answers SNMP on (0 picks a free one).")
@click.option("--community", default="public", show_default=True, help="SNMP v1/v2c community the devices accept.")
@click.option("--write-inventory", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the city as a CSV inventory the collector can read.")
@click.option("--duration", type=click.FloatRange(min=0), default=None,
              help="Stop after this many seconds (default: run until Ctrl-C or SIGTERM).")
def simulate(devices: int, seed: int, port: int, community: str, write_inventory: Path | None,
             duration: float | None) -> None:
    """Serve a simulated city over SNMP on loopback addresses (127.20.x.y), until stopped.

    Every device answers on its own loopback address; try
    `snmpwalk -v2c -c public -On 127.20.0.1:1161 1.3.6.1.2.1.1`.
    """
    try:
        asyncio.run(_simulate(devices, seed, port, community.encode(), write_inventory, duration))
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(1)


async def _simulate(
    devices: int, seed: int, port: int, community: bytes, inventory: Path | None, duration: float | None
) -> None:
    from simulators.runner import start_simulation

    simulation = await start_simulation(devices, seed=seed, port=port, community=community, inventory=inventory)
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
    # one plain line on stdout that scripts wait for
    out.print(
        f"ready: {len(simulation.city.devices)} devices on {first} .. {last} UDP port {simulation.port}",
        highlight=False, soft_wrap=True,
    )
    sys.stdout.flush()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration if duration is not None else math.inf)
    await simulation.close()
    stats = simulation.agent.stats
    console.print(
        f"stopped: {stats.requests} requests answered, {stats.malformed} malformed, "
        f"{stats.bad_community} wrong community, {stats.unknown_destination} to unknown addresses"
    )


@main.command()
@click.option("--config", "-c", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The YAML configuration to check (e.g. config/example-city.yaml).")
def check(config_path: Path) -> None:
    """Check a configuration: every problem as FILE:LINE: field: message, or a summary of the inventory.

    Exits 0 if the configuration is usable, 2 if not. Secrets are never printed.
    """
    from stadtnetz.check import run_check

    sys.exit(run_check(config_path, out, errors=console))


if __name__ == "__main__":
    main()
