"""The upstream graph of the city network, and every device's status in it: up, degraded, down, unreachable.

Owns the difference between "this device failed" and "something above it
failed". A device that stops responding is:

* **down** (its own fault, ``root_cause`` = itself) when the device it hangs
  off is responding;
* **unreachable** (``root_cause`` = the topmost failed device on its path up)
  when an upstream device has failed too: a fibre cut under a distribution
  switch is one down switch and fifty unreachable hotspots, not fifty-one
  outages.

Evidence must be fresh before anything is concluded, because devices are
polled at different moments of the interval:

* a device that failed is only called down once its parent has been checked
  *after* that failure; until then it keeps its previous status and the
  parent is checked at once (``StatusBoard`` returns whom to check);
* after a parent recovers, a child still failing is only called down once
  the child itself has been checked *after* the recovery; it is checked at once.

So a cut and its repair change statuses within seconds and never page for
devices that were merely behind the break. The core (devices without an
upstream) can only be down.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from stadtnetz.model import Device


class Status(enum.Enum):
    UNKNOWN = "unknown"  # not observed yet
    UP = "up"
    DEGRADED = "degraded"  # responding, but with loss or latency over the thresholds
    DOWN = "down"  # not responding while its upstream is: its own fault
    UNREACHABLE = "unreachable"  # not responding because an upstream device failed


PROBLEM = frozenset({Status.DOWN, Status.UNREACHABLE})


class TopologyError(ValueError):
    """The upstream graph is not a forest (a cycle)."""


class Topology:
    """Parents and children of every device; the core has no parent."""

    def __init__(self, devices: Iterable[Device]) -> None:
        devices = list(devices)
        known = {d.id for d in devices}
        self.parent: dict[str, str | None] = {d.id: d.upstream if d.upstream in known else None for d in devices}
        self.children: dict[str, list[str]] = {d.id: [] for d in devices}
        for device_id, parent in self.parent.items():
            if parent is not None:
                self.children[parent].append(device_id)
        for device_id in self.parent:
            seen = {device_id}
            current = self.parent[device_id]
            while current is not None:
                if current in seen:
                    raise TopologyError(f"upstream cycle through {device_id}")
                seen.add(current)
                current = self.parent[current]

    def ancestors(self, device_id: str) -> list[str]:
        """Parent first, then its parent, up to the core."""
        chain = []
        current = self.parent.get(device_id)
        while current is not None:
            chain.append(current)
            current = self.parent[current]
        return chain

    def descendants(self, device_id: str) -> list[str]:
        """Everything below the device, breadth first."""
        found: list[str] = []
        queue = list(self.children.get(device_id, ()))
        while queue:
            current = queue.pop()
            found.append(current)
            queue.extend(self.children[current])
        return found


@dataclass(slots=True)
class Health:
    """What the probes last said about one device."""

    responding: bool | None = None  # None: never observed
    degraded: bool = False
    changed_at: float = 0.0  # when ``responding`` last flipped
    checked_at: float = 0.0  # the latest observation


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    status: Status
    root_cause: str = ""  # the device id at fault for down/unreachable, else empty


UNKNOWN = DeviceStatus(Status.UNKNOWN)


class StatusBoard:
    """Every device's status from its own health and its upstreams' health.

    Feed it observations; it returns the devices that should be checked at once
    to settle a status, and reports every status change to ``on_change``.
    """

    def __init__(
        self,
        topology: Topology,
        on_change: Callable[[str, DeviceStatus, DeviceStatus, float], None] | None = None,
    ) -> None:
        self.topology = topology
        self.health: dict[str, Health] = {device_id: Health() for device_id in topology.parent}
        self.status: dict[str, DeviceStatus] = dict.fromkeys(topology.parent, UNKNOWN)
        self.on_change = on_change
        self._waiting: dict[str, set[str]] = {}  # device -> devices whose status waits for its next check

    def observe(self, device_id: str, responding: bool, degraded: bool, now: float) -> set[str]:
        """One observation of a device; ``now`` is the time its verdict rests on (when the probe that
        answered, or the oldest of the probes that all failed, started). Returns the devices to check now."""
        health = self.health[device_id]
        flipped = health.responding is not responding
        if flipped:
            health.changed_at = now
        health.responding = responding
        health.degraded = degraded and responding
        health.checked_at = now
        to_check: set[str] = set()
        affected = [device_id, *self._waiting.pop(device_id, ())]
        if flipped:
            affected.extend(self.topology.descendants(device_id))
        for other in dict.fromkeys(affected):
            to_check |= self._evaluate(other, now)
        return to_check

    def _evaluate(self, device_id: str, now: float) -> set[str]:
        health = self.health[device_id]
        if health.responding is None:
            return set()
        if health.responding:
            return self._set(device_id, DeviceStatus(Status.DEGRADED if health.degraded else Status.UP), now)
        topmost_failed: str | None = None
        for ancestor in self.topology.ancestors(device_id):
            upstream = self.health[ancestor]
            if upstream.responding is None:
                return self._wait(device_id, ancestor)  # nothing known about the path yet: look first
            if not upstream.responding:
                topmost_failed = ancestor
                continue
            if topmost_failed is not None:
                break  # found a responding device above the failed ones
            # the parent responds: is that news from after our failure, and our failure news from after its recovery?
            if upstream.checked_at < health.changed_at:
                return self._wait(device_id, ancestor)
            if health.checked_at < upstream.changed_at:
                return self._wait(device_id, device_id)
            return self._set(device_id, DeviceStatus(Status.DOWN, device_id), now)
        if topmost_failed is not None:
            return self._set(device_id, DeviceStatus(Status.UNREACHABLE, topmost_failed), now)
        return self._set(device_id, DeviceStatus(Status.DOWN, device_id), now)  # the core itself

    def _wait(self, device_id: str, check: str) -> set[str]:
        """Keep the device's status until ``check`` has been checked again."""
        self._waiting.setdefault(check, set()).add(device_id)
        return {check}

    def _set(self, device_id: str, status: DeviceStatus, now: float) -> set[str]:
        previous = self.status[device_id]
        if status != previous:
            self.status[device_id] = status
            if self.on_change is not None:
                self.on_change(device_id, previous, status, now)
        return set()
