"""``stadtnetz check``: validate a configuration and summarise the inventory it describes.

Owns the command and what the operator reads when checking a configuration:
every problem one per line (``FILE:LINE: field: message``, exit code 2), or a
summary of the resolved inventory (devices per kind, group and district,
credential sets by name and source type, polling per group, warnings; exit
code 0). Secret values are never printed, only where they come from
(environment or file). The configuration and the profiles are imported when
the command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from stadtnetz.cli.common import EXIT_CONFIG, config_option, console, out

if TYPE_CHECKING:
    from stadtnetz.model import Inventory

EXIT_OK = 0
NO_GROUP = "(no group)"


@click.command()
@config_option("The YAML configuration to check (e.g. config/example-city.yaml).")
def check(config_path: Path) -> None:
    """Check a configuration: every problem as FILE:LINE: field: message, or a summary of the inventory.

    Exits 0 if the configuration is usable, 2 if not. Secrets are never printed.
    """
    sys.exit(run_check(config_path, out, errors=console))


def run_check(path: Path, console: Console, errors: Console | None = None) -> int:
    """Load ``path`` and print problems (to ``errors``, default ``console``) or a summary; return the exit code.

    Profile references are checked against the built-in profiles and those in
    the configuration's own ``settings.profile_dirs``.
    """
    from collectors.snmp.profiles import ProfileError, load_profiles, profile_names
    from stadtnetz.config import ConfigError, load_inventory

    errors = errors or console
    try:
        inventory = load_inventory(path, known_profiles=profile_names())
    except ConfigError as exc:
        for issue in exc.issues:
            errors.print(str(issue), markup=False, highlight=False, soft_wrap=True)
        count = len(exc.issues)
        errors.print(
            f"{path}: {count} problem{'s' if count != 1 else ''}; the configuration was not loaded",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_CONFIG
    try:
        load_profiles([Path(d) for d in inventory.settings.profile_dirs], inventory.settings.mib_dirs)
    except ProfileError as exc:
        for issue in exc.issues:
            errors.print(issue, markup=False, highlight=False, soft_wrap=True)
        errors.print(f"{path}: the profiles it uses have problems", markup=False, highlight=False, soft_wrap=True)
        return EXIT_CONFIG
    print_summary(path, inventory, console)
    return EXIT_OK


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def _counts_table(title: str, heading: str, counts: Counter[str]) -> Table:
    table = Table(title=title)
    table.add_column(heading)
    table.add_column("devices", justify="right")
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(name, str(count))
    return table


def print_summary(path: Path, inventory: Inventory, console: Console) -> None:
    from stadtnetz.config.inventory import format_duration
    from stadtnetz.config.ocpp_security import exposure_warnings

    devices = inventory.devices
    settings = inventory.settings
    console.print(
        f"{path}: configuration OK, {_plural(len(devices), 'device')}, {_plural(len(inventory.groups), 'group')}, "
        f"{_plural(len(inventory.credentials), 'credential set')}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"polling every {format_duration(settings.interval)} by default (timeout {format_duration(settings.timeout)}, "
        f"{_plural(settings.retries, 'retry', 'retries')}), {settings.concurrency} devices at once; "
        f"/metrics on {settings.listen_host}:{settings.listen_port}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    history = inventory.history
    if history.path is not None:
        console.print(
            f"history in {history.path} (kept: transitions {format_duration(history.transitions_retention)}, "
            f"outages {format_duration(history.outages_retention)}, "
            f"rollups {format_duration(history.rollups_retention)}, "
            f"availability {format_duration(history.availability_retention)})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if inventory.influx is not None:
        influx = inventory.influx
        token = f"token from {influx.token.source.split(':', 1)[0]}" if influx.token is not None else "no token"
        console.print(
            f"InfluxDB: {influx.url} (org {influx.org}, bucket {influx.bucket}, {token}, "
            f"precision {influx.precision}); spool {influx.spool.path} "
            f"(at most {influx.spool.max_bytes:,} bytes, fsync {influx.spool.fsync})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if inventory.ocpp is not None:
        ocpp = inventory.ocpp
        host, port = ocpp.listen
        shown = f"[{host}]" if ":" in host else host
        with_password = sum(charger.password is not None for charger in inventory.chargers)
        console.print(
            f"OCPP: {len(inventory.chargers)} chargers connect to {'wss' if ocpp.tls else 'ws'}://{shown}:{port}/ "
            f"({with_password} with a password, auth {ocpp.auth}); "
            f"heartbeat {format_duration(ocpp.heartbeat_interval)}, offline after "
            f"{ocpp.offline_after:g} heartbeats without a message; availability target {ocpp.availability_target:.1%} "
            f"over {format_duration(ocpp.availability_window)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for warning in exposure_warnings(ocpp, inventory.chargers):
            console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    console.print(_counts_table("Devices per kind", "kind", Counter(device.kind for device in devices)))
    console.print(_counts_table("Devices per group", "group", Counter(device.group or NO_GROUP for device in devices)))
    console.print(
        _counts_table("Devices per district", "district", Counter(device.district or "(none)" for device in devices))
    )

    used = Counter(device.credentials for device in devices if device.credentials)
    credentials = Table(title="Credentials (values are never shown)")
    for column in ("name", "version", "security", "source", "devices"):
        credentials.add_column(column, justify="right" if column == "devices" else "left")
    for name, credential in sorted(inventory.credentials.items()):
        version = {0: "1", 1: "2c"}.get(credential.version, "3")
        user = credential.user
        if user is None:
            assert credential.community is not None
            security = "community"
            secrets = [credential.community]
        else:
            protocols = [p for p in (user.auth_protocol, user.priv_protocol) if p != "none"]
            security = " ".join([credential.security_level, *(["/".join(protocols)] if protocols else []),
                                 f"user {user.name}"])
            secrets = [key for key in (user.auth_key, user.priv_key) if key is not None]
        source = ", ".join(dict.fromkeys(key.source.split(":", 1)[0] for key in secrets)) or "-"  # never the value
        credentials.add_row(name, version, security, source, str(used.get(name, 0)))
    console.print(credentials)

    polling = Table(title="Polling per group")
    for column in ("group", "devices", "interval", "timeout", "retries", "profiles"):
        polling.add_column(column, justify="right" if column in ("devices", "retries") else "left")
    by_group: dict[str, list] = {}
    for device in devices:
        by_group.setdefault(device.group or NO_GROUP, []).append(device)
    for name in [*inventory.groups, NO_GROUP]:
        members = by_group.get(name, [])
        if not members and name == NO_GROUP:
            continue

        def values(attribute: str, members: list = members) -> str:
            return ", ".join(sorted({str(getattr(device, attribute)) for device in members})) or "-"

        polling.add_row(
            name,
            str(len(members)),
            ", ".join(format_duration(value) for value in sorted({device.interval for device in members})) or "-",
            ", ".join(format_duration(value) for value in sorted({device.timeout for device in members})) or "-",
            values("retries"),
            "; ".join(sorted({", ".join(device.profiles) for device in members})) or "-",
        )
    console.print(polling)

    if inventory.warnings:
        console.print(f"{_plural(len(inventory.warnings), 'warning')}:", markup=False, highlight=False)
        for warning in inventory.warnings:
            console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
