"""The chargers' verdicts: online, offline or unreachable, each connector's open-data class and availability status.

Owns the step from what the OCPP endpoint (:mod:`collectors.ocpp`) heard to what
operators and reports need, and its Prometheus families. :meth:`ChargerBoard.refresh`
(called every second or so by the service) derives, per charger of the inventory:

* **status**: ``online`` while its last message is younger than offline_after x
  heartbeat interval; ``unknown`` while it has not been heard from since the
  service started and that much time has not passed yet; else, silent: with its
  modem (``device``) or a device upstream of it down or unreachable, it is
  ``unreachable`` with that device's root cause (whose own alerts tell the fault:
  one fault, one page); otherwise ``offline``, its own fault (root cause: itself).
* per connector (1..n; connector 0 is the charger as a whole and counts against
  every connector): the **open-data class** EU AFIR asks for, ``available``
  (Available), ``occupied`` (Preparing, Charging, SuspendedEV, SuspendedEVSE,
  Finishing, Reserved) or ``out_of_service`` (Unavailable, Faulted, the charger
  silent, or nothing known); and an **availability status** for the history, in
  the vocabulary of devices (:class:`stadtnetz.status.topology.DeviceStatus`): up (an
  operative status, the charger online), down (inoperative or offline, root cause
  the charger), unreachable (root cause the failed device), unknown (nothing
  known: not counted either way).

Connector availability changes go to ``on_change`` with the time they happened:
a StatusNotification's arrival, or for a charger that fell silent its last
message (the last moment it was known to work; the verdict comes offline_after
heartbeats later). The service records them in the history under the connector's
key ``<charger>/<connector>`` (:func:`connector_key`), where monthly availability
is computed like any device's (:mod:`stadtnetz.history`, ``stadtnetz report chargers``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from stadtnetz.clock import Clock
from stadtnetz.model import Charger, ChargerSnapshot, OcppSettings
from stadtnetz.own_metrics import Family, ScrapeCollector
from stadtnetz.status.topology import PROBLEM, DeviceStatus, Status


class SnapshotSource(Protocol):
    """What the board reads the chargers from: the OCPP endpoint (collectors.ocpp.CentralSystem), handed in."""

    def snapshot(self) -> Mapping[str, ChargerSnapshot]: ...


OPERATIVE = frozenset({"Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing", "Reserved"})
INOPERATIVE = frozenset({"Unavailable", "Faulted"})
SILENT = frozenset({"offline", "unreachable"})  # causes of a connector's outage that are the charger's silence
OCCUPIED = OPERATIVE - {"Available"}


class ChargerStatus(enum.StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"
    UNREACHABLE = "unreachable"


class OpenDataClass(enum.StrEnum):
    """The three classes of a connector's dynamic status that EU AFIR asks operators to publish."""

    AVAILABLE = "available"
    OCCUPIED = "occupied"
    OUT_OF_SERVICE = "out_of_service"


def connector_key(charger_id: str, connector: int) -> str:
    """The history's key for a connector: ``/`` never occurs in a device id, so it cannot clash with one."""
    return f"{charger_id}/{connector}"


@dataclass(frozen=True, slots=True)
class ConnectorVerdict:
    connector: int
    ocpp_status: str  # "" until reported
    open_data: OpenDataClass
    availability: DeviceStatus
    cause: str  # why it is not up: "Faulted (GroundFailure)", "offline", ...
    since: float | None  # when its OCPP status was reported (None: never)


@dataclass(frozen=True, slots=True)
class ChargerVerdict:
    charger: Charger
    status: ChargerStatus
    root_cause: str
    connectors: tuple[ConnectorVerdict, ...]
    snapshot: ChargerSnapshot


class ChargerBoard:
    """The verdicts over the inventory's chargers; see the module docstring."""

    def __init__(
        self,
        chargers: Iterable[Charger],
        central: SnapshotSource,
        settings: OcppSettings,
        clock: Clock,
        device_status: Callable[[str], DeviceStatus | None] = lambda device_id: None,
        on_change: Callable[[str, DeviceStatus, DeviceStatus, float, str], None] | None = None,
    ) -> None:
        self.chargers = {charger.id: charger for charger in chargers}
        self.central = central
        self.settings = settings
        self.clock = clock
        self.device_status = device_status
        self.on_change = on_change
        self.started = clock.time()
        self.in_maintenance: frozenset[str] = frozenset()
        self.verdicts: dict[str, ChargerVerdict] = {}
        self._availability: dict[str, DeviceStatus] = {}  # connector key -> last status reported
        self._silent: dict[str, bool] = {}  # connector key -> its last status was the charger's silence
        self._changed_at: dict[str, float] = {}  # connector key -> when its last reported change happened

    @property
    def silence_limit(self) -> float:
        """Seconds without a message after which a charger is offline."""
        return self.settings.offline_after * self.settings.heartbeat_interval

    def refresh(self) -> dict[str, ChargerVerdict]:
        now = self.clock.time()
        snapshots = self.central.snapshot()
        verdicts: dict[str, ChargerVerdict] = {}
        for charger_id, charger in self.chargers.items():
            snapshot = snapshots[charger_id]
            verdict = self._judge(charger, snapshot, now)
            verdicts[charger_id] = verdict
            for connector in verdict.connectors:
                self._report(charger_id, connector, snapshot, now)
        self.verdicts = verdicts
        return verdicts

    def _judge(self, charger: Charger, snapshot: ChargerSnapshot, now: float) -> ChargerVerdict:
        if snapshot.online:
            status, root_cause = ChargerStatus.ONLINE, ""
        elif snapshot.last_message is None and now - self.started < self.silence_limit:
            status, root_cause = ChargerStatus.UNKNOWN, ""
        else:
            upstream = self.device_status(charger.device) if charger.device else None
            if upstream is not None and upstream.status in PROBLEM:
                status, root_cause = ChargerStatus.UNREACHABLE, upstream.root_cause or (charger.device or "")
            else:
                status, root_cause = ChargerStatus.OFFLINE, charger.id
        whole = snapshot.connector(0)
        numbers = {c.connector for c in snapshot.connectors if c.connector > 0}
        if charger.connectors is not None:
            numbers |= set(range(1, charger.connectors + 1))
        verdicts = []
        for number in sorted(numbers):
            reported = snapshot.connector(number)
            ocpp_status = reported.status if reported is not None else ""
            # when what decides its verdict was reported: its own status or the whole charger's, the later
            reports = [c.since for c in (reported, whole) if c is not None]
            since = max(reports) if reports else None
            if status is ChargerStatus.UNREACHABLE:
                verdict = (OpenDataClass.OUT_OF_SERVICE, DeviceStatus(Status.UNREACHABLE, root_cause), "unreachable")
            elif status is ChargerStatus.OFFLINE:
                verdict = (OpenDataClass.OUT_OF_SERVICE, DeviceStatus(Status.DOWN, charger.id), "offline")
            elif status is ChargerStatus.UNKNOWN or not ocpp_status:
                verdict = (OpenDataClass.OUT_OF_SERVICE, DeviceStatus(Status.UNKNOWN), "")
            elif whole is not None and whole.status in INOPERATIVE:
                cause = f"charger {whole.status} ({whole.error_code})"
                verdict = (OpenDataClass.OUT_OF_SERVICE, DeviceStatus(Status.DOWN, charger.id), cause)
            elif ocpp_status in INOPERATIVE:
                assert reported is not None
                cause = f"{ocpp_status} ({reported.error_code})"
                verdict = (OpenDataClass.OUT_OF_SERVICE, DeviceStatus(Status.DOWN, charger.id), cause)
            elif ocpp_status in OCCUPIED:
                verdict = (OpenDataClass.OCCUPIED, DeviceStatus(Status.UP), "")
            elif ocpp_status in OPERATIVE:
                verdict = (OpenDataClass.AVAILABLE, DeviceStatus(Status.UP), "")
            else:  # not an OCPP 1.6 status (the schema forbids it): nothing known
                verdict = (OpenDataClass.OUT_OF_SERVICE, DeviceStatus(Status.UNKNOWN), "")
            verdicts.append(ConnectorVerdict(number, ocpp_status, *verdict, since))
        return ChargerVerdict(charger, status, root_cause, tuple(verdicts), snapshot)

    def _report(self, charger_id: str, connector: ConnectorVerdict, snapshot: ChargerSnapshot, now: float) -> None:
        key = connector_key(charger_id, connector.connector)
        new = connector.availability
        old = self._availability.get(key)
        if old == new or (old is None and new.status is Status.UNKNOWN):
            return
        was_silent = self._silent.get(key, False)
        silent = connector.cause in SILENT
        if silent:  # the outage began when it was last heard from (or, never heard, when we started listening)
            at = snapshot.last_message if snapshot.last_message is not None else self.started
        elif was_silent or connector.since is None:
            at = now  # heard again: seen within a refresh
        else:
            at = connector.since  # a StatusNotification: when it arrived
        at = min(now, max(at, self._changed_at.get(key, self.started)))
        self._availability[key] = new
        self._silent[key] = silent
        self._changed_at[key] = at
        if self.on_change is not None:
            self.on_change(key, old or DeviceStatus(Status.UNKNOWN), new, at, connector.cause)


_INFO = Family(
    "gauge",
    "stadtnetz_charger_info",
    "The charger's modem device (if monitored), place and what it said at boot; value 1.",
    ("charger", "device", "site", "district", "vendor", "model", "firmware"),
)
_STATUS = Family(
    "gauge",
    "stadtnetz_charger_status",
    "Whether the charger is heard from: online, offline (silent, its own fault), unreachable (silent behind "
    "a failed device, named in root_cause) or unknown; one series with value 1.",
    ("charger", "site", "district", "status", "root_cause"),
)
_MAINTENANCE = Family(
    "gauge",
    "stadtnetz_charger_maintenance",
    "1 while a declared maintenance window covers the charger or its modem.",
    ("charger", "site", "district"),
)
_CONNECTOR_STATE = Family(
    "gauge",
    "stadtnetz_charger_connector_state",
    "The connector's open-data class (EU AFIR): available, occupied or out_of_service; one series, value 1.",
    ("charger", "connector", "state"),
)
_AVAILABILITY_RATIO = Family(
    "gauge",
    "stadtnetz_charger_connector_availability_ratio",
    "The connector's availability over the window: (minutes - (outage minutes - outage minutes in "
    "maintenance)) / minutes, of the minutes observed; from the history, complete hours.",
    ("charger", "connector"),
)
_TARGET = Family(
    "gauge",
    "stadtnetz_charger_availability_target_ratio",
    "The availability each connector should reach over the window (configuration: ocpp.availability_target).",
)
_WINDOW = Family(
    "gauge",
    "stadtnetz_charger_availability_window_seconds",
    "The trailing window of stadtnetz_charger_connector_availability_ratio (ocpp.availability_window).",
)


class ChargerBoardCollector(ScrapeCollector):
    """Exports the board's verdicts (status, open-data class, maintenance, info) and the availability figures."""

    families = (_INFO, _STATUS, _MAINTENANCE, _CONNECTOR_STATE, _AVAILABILITY_RATIO, _TARGET, _WINDOW)

    def __init__(
        self,
        board: ChargerBoard,
        availability: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        self.board = board
        self.availability = availability  # connector key -> ratio over the window (from the history)

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        board = self.board
        ratios = self.availability()
        for charger_id, verdict in sorted(board.verdicts.items()):
            charger, snapshot = verdict.charger, verdict.snapshot
            place = [charger.site, charger.district]
            boot = [snapshot.vendor, snapshot.model, snapshot.firmware]
            yield _INFO, [charger_id, charger.device or "", *place, *boot], 1
            yield _STATUS, [charger_id, *place, verdict.status.value, verdict.root_cause], 1
            yield _MAINTENANCE, [charger_id, *place], int(charger_id in board.in_maintenance)
            for connector in verdict.connectors:
                number = str(connector.connector)
                yield _CONNECTOR_STATE, [charger_id, number, connector.open_data.value], 1
                value = ratios.get(connector_key(charger_id, connector.connector))
                if value is not None:
                    yield _AVAILABILITY_RATIO, [charger_id, number], value
        yield _TARGET, (), board.settings.availability_target
        yield _WINDOW, (), board.settings.availability_window
