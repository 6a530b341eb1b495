"""Polling one device over SNMP: ask what its profiles need, hand the readings to the state.

Owns one device poll: choosing the device's profiles (named in its
configuration, or selected by kind and sysObjectID), one GET of the scalars
and one multi-subtree walk of the table columns within the device's
deadline, turning the answers into readings, and recording success or the
reason for failure. Counts what it does in the process's own metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from collectors.snmp.client import SnmpClient, SnmpError, SnmpTimeoutError, Target
from collectors.snmp.profiles import SYS_OBJECT_ID, SYS_UPTIME, PollPlan, ProfileLibrary
from collectors.snmp.types import TimeTicks
from collectors.snmp.usm import UsmUser
from stadtnetz.clock import Clock
from stadtnetz.model import Device, Inventory, PollStatus, V3User
from stadtnetz.status.state import State

DEADLINE_SHARE = 0.9  # of the poll interval: a poll never runs into the next one


def usm_user(user: V3User) -> UsmUser:
    """The client's USM user from the configuration's (the keys resolved from their references)."""
    return UsmUser(
        user.name.encode(),
        user.auth_protocol,
        user.auth_key.reveal().encode() if user.auth_key else None,
        user.priv_protocol,
        user.priv_key.reveal().encode() if user.priv_key else None,
    )


class SnmpPoller:
    """Polls devices of an inventory; one call of :meth:`poll` per device and interval."""

    def __init__(
        self,
        client: SnmpClient,
        library: ProfileLibrary,
        state: State,
        inventory: Inventory,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        on_result: Callable[[str, bool, float], None] = lambda device_id, answered, started: None,
    ) -> None:
        self.client = client
        self.library = library
        self.state = state
        self.clock = clock
        # (device id, did it answer, monotonic time the poll started: what the evidence is from)
        self.on_result = on_result
        settings = inventory.settings
        self.targets: dict[str, Target] = {}
        for device in inventory.devices:
            credentials = inventory.credentials.get(device.credentials or "")
            if credentials is None:
                continue  # not polled over SNMP (ping only, or not ours)
            self.targets[device.id] = Target(
                device.host,
                device.port,
                community=credentials.community.reveal().encode() if credentials.community else b"",
                version=credentials.version,
                timeout=device.timeout,
                retries=device.retries,
                max_repetitions=settings.max_repetitions,
                usm=usm_user(credentials.user) if credentials.user else None,
                context_name=credentials.context_name.encode(),
            )
        registry = registry if registry is not None else CollectorRegistry()
        self.durations = Histogram(
            "stadtnetz_poll_duration_seconds",
            "Duration of device polls.",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.results = Counter(
            "stadtnetz_polls", "Device polls by result (ok, timeout, error).", ["result"], registry=registry
        )

    def plan_for(self, device: Device) -> PollPlan:
        known = self.state[device.id].sys_object_id
        return self.library.plan(self.library.select(device.profiles, device.kind, known))

    async def poll(self, device: Device) -> PollStatus:
        """Poll ``device`` once and record the outcome in the state."""
        target = self.targets[device.id]
        plan = self.plan_for(device)
        started = self.clock.monotonic()
        try:
            async with asyncio.timeout(device.interval * DEADLINE_SHARE):
                scalars = await self.client.get(target, plan.scalar_oids)
                walked = await self.client.walk(target, plan.walk_roots) if plan.walk_roots else {}
        except (SnmpTimeoutError, TimeoutError) as exc:
            return self._failed(device, PollStatus.TIMEOUT, str(exc) or "poll deadline exceeded", started)
        except SnmpError as exc:
            return self._failed(device, PollStatus.ERROR, str(exc), started)
        values = dict(scalars)
        uptime = values.get(SYS_UPTIME)
        sys_object_id = values.get(SYS_OBJECT_ID)
        readings = plan.evaluate(scalars, walked)
        duration = self.clock.monotonic() - started
        self.state.record_poll(
            device.id,
            readings,
            int(uptime) if type(uptime) is TimeTicks else None,
            sys_object_id if isinstance(sys_object_id, tuple) else None,
            duration,
        )
        self.durations.observe(duration)
        self.results.labels("ok").inc()
        self.on_result(device.id, True, started)
        return PollStatus.OK

    def _failed(self, device: Device, status: PollStatus, error: str, started: float) -> PollStatus:
        duration = self.clock.monotonic() - started
        self.state.record_failure(device.id, status, error, duration)
        self.durations.observe(duration)
        self.results.labels(status.value).inc()
        # an error answer is still an answer: the device is reachable, its agent is unhappy
        self.on_result(device.id, status is PollStatus.ERROR, started)
        return status


async def poll_once(
    inventory: Inventory, library: ProfileLibrary, device: Device, clock: Clock, gap: float = 0.0
) -> State:
    """Poll one device now (twice, ``gap`` seconds apart, when rates are wanted); return its state."""
    state = State([device], clock)
    async with SnmpClient() as client:
        poller = SnmpPoller(client, library, state, inventory, clock)
        await poller.poll(device)
        if gap > 0 and state[device.id].status is PollStatus.OK:
            await asyncio.sleep(gap)
            await poller.poll(device)
    return state
