"""The checks across sections, once every file is read: chargers and their modems, charger passwords, what a published
charger needs (its address, coordinates, connectors' static data, the operator), the InfluxDB precision against every
poll interval, and the maintenance windows' references to devices and groups.

Owns :class:`CrossChecks`, the part of the loader that runs after the devices are resolved (its methods are the
loader's; :class:`stadtnetz.config.loader._Loader` holds the state they read).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from stadtnetz.config.errors import Where, _Collector
from stadtnetz.config.schema import ChargerSpec, MaintenanceSpec, MatchSpec
from stadtnetz.config.sections import _SectionOnce
from stadtnetz.config.yaml_lines import _Document, join_path
from stadtnetz.maintenance import DeviceMatch, MaintenanceWindow, Recurrence
from stadtnetz.model import (
    Charger,
    ConnectorInfo,
    Device,
    InfluxSettings,
    OcppSettings,
    OpenDataSettings,
    OpeningHours,
)
from stadtnetz.secrets import Secret


class CrossChecks:
    """The loader's checks across sections (mixed into :class:`stadtnetz.config.loader._Loader`).

    The state they read is the loader's (set in ``_Loader.__init__`` and filled while the files are read).
    """

    reporter: _Collector
    influx: tuple[InfluxSettings, _Document] | None
    ocpp: tuple[OcppSettings, Secret | None] | None
    ocpp_seen: _SectionOnce
    chargers: list[tuple[ChargerSpec, _Document, str]]
    maintenance: list[tuple[MaintenanceSpec, _Document, str]]
    opendata: OpenDataSettings
    opendata_invalid: bool  # the opendata section had errors (reported): its operator is not known

    def resolve_chargers(self, devices: list[Device]) -> list[Charger]:
        """The chargers, their modem references checked and site and district taken from the modem."""
        by_id = {device.id: device for device in devices}
        chargers: list[Charger] = []
        first: dict[str, Where] = {}
        for spec, document, path in self.chargers:
            where = document.where(path)
            if self.ocpp is None:
                if self.ocpp_seen.where is None:  # (an ocpp section with errors has been reported already)
                    self.reporter.error(
                        where,
                        "chargers need an ocpp section: where they connect (ocpp.listen) and how often they report",
                    )
                return []
            if spec.id in first:
                self.reporter.error(
                    document.where(join_path(path, "id")),
                    f"charger {spec.id!r} is already declared at {first[spec.id]}; charger ids must be unique",
                )
                continue
            first[spec.id] = where
            modem = None
            if spec.device is not None:
                modem = by_id.get(spec.device)
                if modem is None:
                    close = difflib.get_close_matches(spec.device, sorted(by_id), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    self.reporter.error(
                        document.where(join_path(path, "device")),
                        f"unknown device {spec.device!r} (the charger's modem must be a device of the inventory){hint}",
                    )
                    continue
            site = spec.site if spec.site is not None else (modem.site if modem else "")
            own_place = spec.lat is not None and spec.lon is not None
            charger = Charger(
                id=spec.id,
                device=spec.device,
                site=site,
                district=spec.district if spec.district is not None else (modem.district if modem else ""),
                connectors=len(spec.connectors) or None,
                password=spec.password if spec.password is not None else self.ocpp[1],
                tags=tuple(spec.tags),
                group=spec.group,
                publish=spec.publish,
                name=spec.name or site,
                street=spec.street or "",
                house_number=spec.house_number or "",
                postcode=spec.postcode or "",
                city=spec.city or "",
                lat=spec.lat if own_place else (modem.lat if modem else None),
                lon=spec.lon if own_place else (modem.lon if modem else None),
                opening_hours=OpeningHours(
                    tuple((day, period.open, period.close) for period in spec.opening_hours for day in period.days)
                ),
                connector_info=tuple(
                    ConnectorInfo(c.standard or "", c.format or "", c.power_type or "", c.max_voltage, c.max_amperage,
                                  c.max_electric_power)
                    for c in spec.connectors
                ),
            )
            if charger.publish:
                self.check_publishable(charger, spec, document, path)
            chargers.append(charger)
        self.check_charger_passwords(chargers)
        if self.ocpp is not None and not self.chargers and self.ocpp_seen.where is not None:
            self.reporter.warning(
                self.ocpp_seen.where, "no chargers are declared (chargers:): the OCPP endpoint is not started"
            )
        return chargers

    def check_publishable(self, charger: Charger, spec: ChargerSpec, document: _Document, path: str) -> None:
        """publish: true: the feeds need the operator, an address, coordinates and each connector's static data."""
        problems: list[tuple[str, str]] = []
        if self.opendata.operator is None and not self.opendata_invalid:  # (an invalid section is reported already)
            problems.append(("publish", "publish: true needs opendata.operator (its name and party_id)"))
        for field in ("street", "postcode", "city"):
            if not getattr(charger, field):
                problems.append((field, f"publish: true needs the charger's {field} (its address in the feeds)"))
        # OCPI's limits: Location.id CiString(36) (its EVSEs' uid is <id>-<n>), address and city string(45)
        if len(charger.id) > 33:
            problems.append(("id", f"a published charger's id has at most 33 characters (OCPI), not {len(charger.id)}"))
        address = " ".join(part for part in (charger.street, charger.house_number) if part)
        if len(address) > 45:
            problems.append(("street", f"street and house number have at most 45 characters in OCPI, not "
                                       f"{len(address)}"))
        if len(charger.city) > 45:
            problems.append(("city", f"a city has at most 45 characters in OCPI, not {len(charger.city)}"))
        if spec.lat is None or spec.lon is None:
            if spec.lat is not None or spec.lon is not None:
                problems.append(("lat" if spec.lat is None else "lon", "give both lat and lon, or neither"))
            elif charger.lat is None or charger.lon is None:
                problems.append((
                    "publish",
                    "publish: true needs coordinates: give lat and lon, or a modem (device) that has them",
                ))
        needed = "one entry per connector with standard, format, power_type, max_voltage and max_amperage"
        if not spec.connectors:
            problems.append(("publish", f"publish: true needs its connectors: {needed}"))
        elif not any(info != ConnectorInfo() for info in charger.connector_info):
            problems.append(("connectors", f"publish: true needs each connector's static data, a number only counts "
                                           f"them: give {needed}"))
            return self._report(problems, document, path)
        for index, (given, info) in enumerate(zip(spec.connectors, charger.connector_info, strict=True)):
            if info.complete:
                continue
            missing = [name for name in ("standard", "format", "power_type", "max_voltage", "max_amperage")
                       if getattr(given, name) is None]
            problems.append((join_path("connectors", index), f"publish: true needs connector {index + 1}'s "
                                                               f"{', '.join(missing)}"))
        self._report(problems, document, path)

    def _report(self, problems: list[tuple[str, str]], document: _Document, path: str) -> None:
        for field, message in problems:
            self.reporter.error(document.where(join_path(path, field)), message)

    def check_charger_passwords(self, chargers: list[Charger]) -> None:
        """ocpp.auth basic (the default): a charger without a password, its own or ocpp.password, is an error."""
        if self.ocpp is None or self.ocpp[0].auth != "basic":
            return
        without = [charger.id for charger in chargers if charger.password is None]
        if not without:
            return
        where = {spec.id: document.where(path) for spec, document, path in reversed(self.chargers)}
        shown = ", ".join(repr(cp_id) for cp_id in without[:5])
        if len(without) > 5:
            shown += f" and {len(without) - 5} more"
        self.reporter.error(
            where[without[0]],
            f"no password for charger(s) {shown}: ocpp.auth is basic (the default), so anyone reaching the "
            "endpoint could connect as a charger without one; give ocpp.password (shared) or a password per "
            "charger (references: ${ENV_VAR} or file:PATH), or write auth: none under ocpp to accept charger "
            "ids without credentials",
        )

    def check_influx_precision(self, devices: list[Device]) -> None:
        """Every poll interval must be a whole number of the precision's units, or snapshots share timestamps."""
        if self.influx is None:
            return
        settings, document = self.influx
        unit = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[settings.precision]
        for interval in sorted({device.interval for device in devices}):
            steps = interval / unit
            if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
                example = next(device.id for device in devices if device.interval == interval)
                self.reporter.error(
                    document.where("influx.precision"),
                    f"precision {settings.precision} cannot carry the poll interval of {interval:g} s "
                    f"(device {example!r}): snapshots would share or shift timestamps; use a finer precision "
                    "(ms, us or ns)",
                )
                return

    def maintenance_windows(
        self, devices: list[Device], groups: Mapping[str, Any], chargers: list[Charger]
    ) -> list[MaintenanceWindow]:
        """The declared windows, their references to devices (chargers too) and groups checked."""
        known = {device.id for device in devices} | {charger.id for charger in chargers}
        windows: list[MaintenanceWindow] = []
        first: dict[str, Where] = {}
        for spec, document, path in self.maintenance:
            where = document.where(path)
            if spec.name in first:
                self.reporter.error(
                    document.where(join_path(path, "name")),
                    f"maintenance window {spec.name!r} is already declared at {first[spec.name]}; names must be unique",
                )
                continue
            first[spec.name] = where
            for field_name, names, pool, what in (
                ("devices", spec.match.devices, known, "device"),
                ("groups", spec.match.groups, set(groups), "group"),
            ):
                for index, name in enumerate(names):
                    if name not in pool:
                        close = difflib.get_close_matches(name, sorted(pool), n=1)
                        hint = f"; did you mean {close[0]!r}?" if close else ""
                        self.reporter.error(
                            document.where(join_path(path, "match", field_name, index)),
                            f"unknown {what} {name!r}{hint}",
                        )
            match = DeviceMatch(*(frozenset(getattr(spec.match, key)) for key in MatchSpec.model_fields))
            recurrence = None
            if spec.every is not None and spec.at is not None and spec.duration is not None:
                recurrence = Recurrence(spec.every, spec.at, spec.duration)
            window = MaintenanceWindow(
                name=spec.name,
                match=match,
                reason=spec.reason,
                start=spec.start,
                end=spec.end,
                recurrence=recurrence,
                timezone=spec.timezone,
                where=str(where),
            )
            if not any(match.matches(item) for item in [*devices, *chargers]):
                self.reporter.warning(
                    document.where(join_path(path, "match")), "matches no device or charger of the inventory"
                )
            windows.append(window)
        return windows
