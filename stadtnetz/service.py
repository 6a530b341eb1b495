"""The running service: wires inventory, profiles, SNMP client and poller, scheduler, state and web.

Owns start and stop in the right order and the process's own metrics about
its SNMP traffic. Everything else is done by the parts it wires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from collectors.snmp.client import SnmpClient
from collectors.snmp.poller import SnmpPoller
from collectors.snmp.profiles import ProfileLibrary
from stadtnetz.clock import Clock, SystemClock
from stadtnetz.model import Device, Inventory, PollStatus
from stadtnetz.scheduler import Scheduler
from stadtnetz.state import State
from stadtnetz.web import build_app

log = logging.getLogger("stadtnetz")
disable_created_metrics()  # the *_created series only add noise to a long-running collector


class _ClientStatsCollector:
    """Exports the SNMP client's counters (requests, timeouts, malformed packets, ...) at scrape time."""

    def __init__(self, client: SnmpClient) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        stats = self.client.stats
        for name, value, text in (
            ("snmp_requests", stats.requests, "SNMP requests sent (first transmissions)."),
            ("snmp_retransmissions", stats.retransmissions, "SNMP requests sent again after a timeout."),
            ("snmp_responses", stats.responses, "SNMP responses matched to a request."),
            ("snmp_timeouts", stats.timeouts, "SNMP requests that got no answer after all retries."),
            ("snmp_malformed_packets", stats.malformed, "Datagrams that were not valid SNMP, dropped."),
            ("snmp_unmatched_packets", stats.unmatched, "SNMP responses matching no outstanding request, dropped."),
            ("snmp_too_big", stats.too_big, "tooBig answers that made the client split a request."),
        ):
            family = CounterMetricFamily(f"stadtnetz_{name}", text)
            family.add_metric([], value)
            yield family


@dataclass
class Service:
    inventory: Inventory
    library: ProfileLibrary
    devices: list[Device]  # the devices this process polls (its shard)
    clock: Clock = field(default_factory=SystemClock)
    listen_host: str | None = None
    listen_port: int | None = None

    def __post_init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.state = State(self.devices, self.clock)
        settings = self.inventory.settings
        self.client = SnmpClient(
            max_in_flight=max(64, settings.concurrency * settings.max_in_flight_per_device),
            max_in_flight_per_device=settings.max_in_flight_per_device,
        )
        self.registry.register(_ClientStatsCollector(self.client))
        self.poller = SnmpPoller(self.client, self.library, self.state, self.inventory, self.clock, self.registry)
        self.scheduler = Scheduler(
            self.devices,
            self.poller.poll,
            settings.concurrency,
            self.clock,
            self.registry,
            unreachable=lambda device: self.state[device.id].status is PollStatus.TIMEOUT,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def health(self) -> tuple[bool, str]:
        if not self._tasks or any(t.done() for t in self._tasks):
            return False, "scheduler not running"
        return True, "polling"

    async def start(self) -> str:
        """Start polling and serving; return the URL of /metrics' server."""
        host = self.listen_host or self.inventory.settings.listen_host
        port = self.inventory.settings.listen_port if self.listen_port is None else self.listen_port
        app = build_app(self.state, [self.registry], self.health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}/"
        await self.client.__aenter__()
        self._tasks.append(asyncio.create_task(self.scheduler.run(self._stop), name="scheduler"))
        log.info("polling %d devices, serving %s", len(self.devices), self.url)
        return self.url

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()
        if self._runner is not None:
            await self._runner.cleanup()
