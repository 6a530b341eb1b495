"""Whether each device responds: the probes' latest results combined, fed to the topology and flap detection.

Owns the step from "the SNMP poll timed out" / "3 of 5 echoes came back" to
"the device responds, and is (not) degraded": a device responds when any of
its probes' latest results says so (a device whose SNMP agent hangs but which
answers ping is reachable; its SNMP status tells the rest); it is degraded
when its recent echoes (the last rounds, at least ``DEGRADED_WINDOW`` echoes:
one lost echo of five is noise, not 20 % loss) lost ``degraded_loss`` or more,
or took ``degraded_rtt`` or more on average. Every observation goes to the
:class:`~stadtnetz.status.topology.StatusBoard`, whose verdicts are written into the
device's state together with the flap detector's; the devices the board
wants checked at once are handed to ``check_now``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable

from stadtnetz.clock import Clock
from stadtnetz.model import Device, Settings
from stadtnetz.status.flapping import FlapDetector
from stadtnetz.status.state import State
from stadtnetz.status.topology import PROBLEM, DeviceStatus, Status, StatusBoard, Topology

log = logging.getLogger("stadtnetz.status")

SNMP = "snmp"
PING = "ping"
DEGRADED_WINDOW = 20  # echoes over which loss and round-trip time are judged


class Reachability:
    def __init__(
        self,
        inventory_devices: Iterable[Device],
        state: State,
        settings: Settings,
        clock: Clock,
        check_now: Callable[[str], None] = lambda device_id: None,
        on_change: Callable[[str, DeviceStatus, DeviceStatus, float], None] | None = None,
    ) -> None:
        self.state = state
        self.settings = settings
        self.clock = clock
        self.check_now = check_now
        self.extra_on_change = on_change
        self.board = StatusBoard(Topology(inventory_devices), self._changed)
        self.flaps = FlapDetector(settings.flap_high, settings.flap_low)
        # device -> probe -> (responded, when that probe started) of its latest result
        self.latest: dict[str, dict[str, tuple[bool, float]]] = {}
        self.degraded: dict[str, bool] = {}
        self.recent: dict[str, deque[tuple[int, int, float]]] = {}  # device -> (sent, received, rtt sum) per round

    def snmp_result(self, device_id: str, answered: bool, started: float) -> None:
        """An SNMP poll's outcome; ``started`` (monotonic) is when it began, i.e. when its evidence is from."""
        self._observe(device_id, SNMP, answered, started)

    def ping_result(self, device_id: str, sent: int, received: int, rtt_avg: float, started: float) -> None:
        """A ping round's outcome, from when it began."""
        rounds = self.recent.setdefault(device_id, deque())
        rounds.append((sent, received, rtt_avg * received if received else 0.0))
        while len(rounds) > 1 and sum(r[0] for r in rounds) - rounds[0][0] >= DEGRADED_WINDOW:
            rounds.popleft()
        sent_total = sum(r[0] for r in rounds)
        received_total = sum(r[1] for r in rounds)
        degraded = False
        if received > 0 and sent_total >= DEGRADED_WINDOW and received_total:
            loss = 1 - received_total / sent_total
            average = sum(r[2] for r in rounds) / received_total
            degraded = loss >= self.settings.degraded_loss or average >= self.settings.degraded_rtt
        self.degraded[device_id] = degraded
        self._observe(device_id, PING, received > 0, started)

    def _observe(self, device_id: str, probe: str, answered: bool, started: float) -> None:
        if device_id not in self.board.health:
            return  # not in the topology (should not happen: every inventory device is)
        results = self.latest.setdefault(device_id, {})
        previous = results.get(probe)
        if previous is not None and previous[1] > started:
            return  # a result older than one already known (a slow probe finishing late): no news
        results[probe] = (answered, started)
        answered_at = [at for ok, at in results.values() if ok]
        responding = bool(answered_at)
        # what the verdict rests on: the newest answer, or (all probes failing) the oldest of the failures
        evidence = max(answered_at) if responding else min(at for _, at in results.values())
        to_check = self.board.observe(device_id, responding, self.degraded.get(device_id, False), evidence)
        status = self.board.status[device_id].status
        if status is not Status.UNREACHABLE:  # failing behind a failed upstream is not the device's own doing
            device = self.state.devices.get(device_id)
            flapping = self.flaps.record(device_id, responding)
            if device is not None:
                if flapping != device.flapping:
                    log.info("%s %s flapping", device_id, "started" if flapping else "stopped")
                device.flapping = flapping
                device.state_change = self.flaps.devices[device_id].change
        for other in to_check:
            self.check_now(other)

    def _changed(self, device_id: str, old: DeviceStatus, new: DeviceStatus, now: float) -> None:
        device = self.state.devices.get(device_id)
        if device is not None:
            device.health = new.status
            device.root_cause = new.root_cause
        if new.status in PROBLEM or old.status in PROBLEM:
            cause = f" (root cause {new.root_cause})" if new.root_cause and new.root_cause != device_id else ""
            log.info("%s: %s -> %s%s", device_id, old.status.value, new.status.value, cause)
        if self.extra_on_change is not None:
            self.extra_on_change(device_id, old, new, now)
