"""The plan of a configuration: its devices, address lists, trench routes and history put together.

Owns reading what ``planning:`` names (through :mod:`stadtnetz.config.addresses` and
:mod:`stadtnetz.config.routes`, whose errors name file and line) and opening the history read-only, for
``stadtnetz export planning``, ``stadtnetz report gaps`` and the service's planning metrics. A history file the
configuration names but the service has not written yet is not an error: the plan then has no utilisation or
availability, and a warning says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from stadtnetz.config.addresses import load_addresses
from stadtnetz.config.routes import load_routes
from stadtnetz.model import Inventory
from stadtnetz.planning.network import open_history
from stadtnetz.planning.plan import Plan, make_plan


@dataclass
class LoadedPlan:
    plan: Plan
    warnings: list[str] = field(default_factory=list)


def load_plan(inventory: Inventory, now: float | None = None) -> LoadedPlan:
    """The plan of ``inventory`` at ``now`` (default: the current time).

    Raises :class:`stadtnetz.config.ConfigError` naming every bad address or route, ValueError without planning.
    """
    settings = inventory.planning
    if settings is None:
        raise ValueError("the configuration has no planning section")
    now = time.time() if now is None else now
    addresses = load_addresses(settings)
    warnings = list(addresses.warnings)
    routes = load_routes(settings.routes, inventory.devices) if settings.routes is not None else {}
    history = None
    path = inventory.history.path
    if path is not None and path.is_file():
        history = open_history(path)
    elif path is not None:
        warnings.append(f"history {path} does not exist yet: utilisation and availability are left empty")
    try:
        plan = make_plan(inventory.devices, addresses.addresses, settings, routes, history, now)
    finally:
        if history is not None:
            history.close()
    plan.sources = [str(p) for p in settings.address_files]
    if settings.routes is not None:
        plan.sources.append(str(settings.routes))
    if history is not None:
        plan.sources.append(str(path))
    if plan.unplaced_devices:
        warnings.append(
            f"{len(plan.unplaced_devices)} devices have no lat/lon and are not in the plan: "
            + ", ".join(plan.unplaced_devices[:10]) + (" ..." if len(plan.unplaced_devices) > 10 else "")
        )
    return LoadedPlan(plan, warnings)
