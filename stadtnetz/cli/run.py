"""``stadtnetz run`` and ``stadtnetz poll``: the service polling a configuration, and one device polled now.

Owns these commands' options, output and exit codes (``run``: 1 if the
service cannot start; ``poll``: 1 if the device does not answer, 2 if it is
not in the configuration); the service is :mod:`stadtnetz.app.service`'s.
"""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import click
from rich.table import Table

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


@click.command()
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
        # the planning figures are the whole city's: one shard (the first) exports them
        service = Service(inventory, library, devices, listen_host=host, listen_port=port, planning=index == 0)
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


@click.command()
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
