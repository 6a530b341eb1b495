"""Loading the configuration: ONE YAML file and the files it includes, into a :class:`stadtnetz.model.Inventory`.

Owns the order of the work: reading each file once (includes, cycles), checking every section against the schema
(:mod:`stadtnetz.config.schema`) and reporting *every* problem of the configuration at once as a
:class:`~stadtnetz.config.errors.ConfigError` whose lines read ``FILE:LINE: FIELD: MESSAGE``. Line numbers come
from :mod:`stadtnetz.config.yaml_lines`; pydantic's error locations are mapped back onto them. What each section
turns into is :mod:`stadtnetz.config.sections`; the checks across sections are
:mod:`stadtnetz.config.references`; resolving devices (inheritance, upstream checks) is
:mod:`stadtnetz.config.inventory`, reading CSV files :mod:`stadtnetz.config.csv_inventory`.

Every section is optional, but the inventory must end up with at least one device. What each key means, its
default and an example: the README's "Configuration reference", rendered from the fields' descriptions in
:mod:`stadtnetz.config.schema` by :mod:`stadtnetz.config.reference` (a test keeps the two equal). Names of groups,
credential sets, profiles and tags follow the device id rule.

Inheritance: built-in defaults -> ``settings`` -> ``defaults`` -> the group's
parent chain (root first) -> the group -> the device (the device wins).

Secrets: a community is only ever a reference; the resolved value lives in a
:class:`stadtnetz.secrets.Secret` and no message, repr or log line of this
module contains it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from stadtnetz.config.csv_inventory import read_csv
from stadtnetz.config.errors import ConfigError, Origin, Where, _Collector, _message
from stadtnetz.config.inventory import CsvSource, DeviceEntry, GroupEntry, Layer, resolve
from stadtnetz.config.references import CrossChecks
from stadtnetz.config.rules import _one_or_list
from stadtnetz.config.schema import (
    SECTIONS,
    ChargerSpec,
    FileSpec,
    InventorySpec,
    MaintenanceSpec,
)
from stadtnetz.config.sections import SectionReader, _SectionOnce
from stadtnetz.config.yaml_lines import _Document, _parse_yaml, join_path
from stadtnetz.model import (
    Device,
    HistorySettings,
    InfluxSettings,
    Inventory,
    OcppSettings,
    OpenDataSettings,
    PlanningSettings,
    Settings,
    SnmpCredentials,
    WebSettings,
)
from stadtnetz.profile_files import profile_names
from stadtnetz.secrets import Secret
from stadtnetz.units import describe

log = logging.getLogger("stadtnetz.config")


class _Loader(SectionReader, CrossChecks):
    """Reads the files and their sections (:class:`SectionReader`), then checks across them (:class:`CrossChecks`)."""

    def __init__(self, environ: Mapping[str, str], reporter: _Collector) -> None:
        self.environ = dict(environ)
        self.reporter = reporter
        self.stack: list[tuple[Path, Path]] = []  # (resolved, as written) of the files being read
        self.loaded: set[Path] = set()
        self.settings = Settings()
        self.base = Layer(origin=Origin(Path("<settings>"), None, "settings"))
        self.defaults = Layer(origin=Origin(Path("<defaults>"), None, "defaults"))
        self.settings_seen = _SectionOnce()
        self.defaults_seen = _SectionOnce()
        self.credentials: dict[str, SnmpCredentials] = {}
        self.credential_origin: dict[str, Where] = {}
        self.groups: dict[str, GroupEntry] = {}
        self.entries: list[DeviceEntry] = []
        self.csv_sources: list[CsvSource] = []
        self.device_items = 0
        self.unreadable = False  # a file could not be read or parsed: its devices are unknown
        self.root_devices_where: Where | None = None
        self.maintenance: list[tuple[MaintenanceSpec, _Document, str]] = []
        self.history = HistorySettings()
        self.history_seen = _SectionOnce()
        self.influx_seen = _SectionOnce()
        self.influx: tuple[InfluxSettings, _Document] | None = None
        self.ocpp_seen = _SectionOnce()
        self.ocpp: tuple[OcppSettings, Secret | None] | None = None
        self.planning: PlanningSettings | None = None
        self.planning_seen = _SectionOnce()
        self.web = WebSettings()
        self.web_seen = _SectionOnce()
        self.chargers: list[tuple[ChargerSpec, _Document, str]] = []
        self.opendata = OpenDataSettings()
        self.opendata_seen = _SectionOnce()
        self.opendata_invalid = False

    # files and includes

    def load_file(self, path: Path, included_from: Where | None) -> None:
        key = path.resolve()
        if any(active == key for active, _ in self.stack):
            chain = [str(written) for _, written in self.stack] + [str(path)]
            assert included_from is not None
            self.reporter.error(
                included_from, f"include cycle: {' -> '.join(chain)}; a file cannot include itself, even indirectly"
            )
            return
        if key in self.loaded:
            return  # each file is read once, however often it is included
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            where = included_from or Where(path, None, "(file)")
            hint = "; include paths are relative to the including file" if included_from else ""
            self.reporter.error(where, f"cannot read configuration file {path}: {reason}{hint}")
            self.unreadable = True
            return
        self.loaded.add(key)
        self.reporter.register(path)
        self.stack.append((key, path))
        try:
            document = _parse_yaml(path, text, self.reporter)
            if document is None:
                self.unreadable = True
            else:
                self.process(document)
        finally:
            self.stack.pop()

    def validate(
        self, document: _Document, path: str, model: type[BaseModel], raw: Any, context: dict | None = None
    ) -> Any:
        """Validate ``raw`` (at ``path`` of ``document``) with ``model``; report every error, return None on any."""
        spec, failed = self.validate_partly(document, path, model, raw, context)
        return None if failed else spec

    def validate_partly(
        self,
        document: _Document,
        path: str,
        model: type[BaseModel],
        raw: Any,
        context: dict | None = None,
        placeholders: Mapping[str, Any] | None = None,
    ) -> tuple[Any, set[str] | None]:
        """Validate and report; returns (spec, None) if valid, else (spec of the valid fields or None, failed fields).

        The partial spec lets reference checks (groups, upstream, credentials)
        still run on the fields that are fine, so one run reports everything.
        Required fields that failed are replaced by ``placeholders`` (or no
        partial spec is made).
        """
        try:
            return model.model_validate(raw, context=context), None
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        for error in errors:
            field_path = join_path(path, *error["loc"])
            # never echo a secret
            sensitive = (
                path.startswith("credentials")
                or "community" in field_path
                or field_path == "influx.token"
                or "password" in field_path
            )
            self.reporter.error(document.where(field_path), _message(error, model, sensitive))
        failed = {str(error["loc"][0]) for error in errors if error["loc"]}
        if not isinstance(raw, dict) or any(not error["loc"] for error in errors):
            return None, failed
        partial = {key: value for key, value in raw.items() if key not in failed}
        for name, info in model.model_fields.items():
            if info.is_required() and name not in partial:
                if not placeholders or name not in placeholders:
                    return None, failed
                partial[name] = placeholders[name]
        try:
            return model.model_validate(partial, context=context), failed
        except ValidationError:  # pragma: no cover - every failing field was removed
            return None, failed

    def process(self, document: _Document) -> None:
        data = document.data
        if not isinstance(data, dict):
            self.reporter.error(
                document.where(""),
                f"expected a mapping with the sections {', '.join(SECTIONS)}, got {describe(data)}",
            )
            return
        self.validate(document, "", FileSpec, data)
        includes = _one_or_list(data.get("include"))
        if isinstance(includes, list):
            for index, name in enumerate(includes):
                if isinstance(name, str) and name.strip():
                    where = document.where(join_path("include", index))
                    self.load_file(Path(os.path.normpath(document.file.parent / name.strip())), where)
        if isinstance(data.get("settings"), dict):
            self.process_settings(document, data["settings"])
        if isinstance(data.get("credentials"), dict):
            for name, raw in data["credentials"].items():
                self.process_credentials(document, name, raw)
        if isinstance(data.get("defaults"), dict):
            self.process_defaults(document, data["defaults"])
        if isinstance(data.get("groups"), dict):
            for name, raw in data["groups"].items():
                self.process_group(document, name, raw)
        if "devices" in data and self.root_devices_where is None and len(self.stack) == 1:
            self.root_devices_where = document.where("devices")
        if isinstance(data.get("devices"), list):
            for index, raw in enumerate(data["devices"]):
                self.process_device(document, join_path("devices", index), raw)
        if isinstance(data.get("inventory"), list):
            for index, raw in enumerate(data["inventory"]):
                path = join_path("inventory", index)
                spec = self.validate(document, path, InventorySpec, raw)
                if spec is not None:
                    self.csv_sources.append(
                        CsvSource(index, document.file.parent / spec.file, document.origin(path), spec.group)
                    )
        if "influx" in data and isinstance(data["influx"] or {}, dict):
            self.process_influx(document, data["influx"] or {})
        if isinstance(data.get("maintenance"), list):
            for index, raw in enumerate(data["maintenance"]):
                path = join_path("maintenance", index)
                spec = self.validate(document, path, MaintenanceSpec, raw)
                if spec is not None:
                    self.maintenance.append((spec, document, path))
        if isinstance(data.get("history"), dict):
            self.process_history(document, data["history"])
        if "ocpp" in data and isinstance(data["ocpp"] or {}, dict):
            self.process_ocpp(document, data["ocpp"] or {})
        if "planning" in data and isinstance(data["planning"] or {}, dict):
            self.process_planning(document, data["planning"] or {})
        if "web" in data and isinstance(data["web"] or {}, dict):
            self.process_web(document, data["web"] or {})
        if "opendata" in data and isinstance(data["opendata"] or {}, dict):
            self.process_opendata(document, data["opendata"] or {})
        if isinstance(data.get("chargers"), list):
            context = {"base_dir": document.file.parent, "environ": self.environ}
            for index, raw in enumerate(data["chargers"]):
                path = join_path("chargers", index)
                spec = self.validate(document, path, ChargerSpec, raw, context)
                if spec is not None:
                    self.chargers.append((spec, document, path))

    def once(self, seen: _SectionOnce, document: _Document, section: str) -> bool:
        where = document.where(section)
        if seen.where is not None:
            self.reporter.error(where, f"{section} is already given in {seen.where}; write {section} in one file only")
            return False
        seen.where = where
        return True

    def check_planning_area(self, devices: list[Device]) -> None:
        """A device outside ``planning.area`` is a warning: swapped coordinates, or an upstream outside the town."""
        area = self.planning.area if self.planning is not None else None
        if area is None:
            return
        south, west, north, east = area
        origins = {entry.id: entry.origin for entry in self.entries}
        for device in devices:
            if device.lat is None or device.lon is None or device.id not in origins:
                continue
            if not (south <= device.lat <= north and west <= device.lon <= east):
                self.reporter.warning(origins[device.id].at("lat"), (
                    f"{device.lat:g} N, {device.lon:g} E lies outside planning.area ({south:g}..{north:g} N, "
                    f"{west:g}..{east:g} E); check the coordinates (lat and lon swapped?), or widen the area if the "
                    "device stands outside on purpose"
                ))

    def read_inventories(self) -> bool:
        """Read every CSV inventory; False if any file (YAML or CSV) was unusable."""
        usable = not self.unreadable
        for source in self.csv_sources:
            if source.group is not None and source.group not in self.groups:
                defined = ", ".join(self.groups) or "none; add them under groups:"
                self.reporter.error(source.origin.at("group"), f"unknown group {source.group!r} (defined: {defined})")
                source = CsvSource(source.index, source.file, source.origin, None)
            self.reporter.register(source.file)
            rows = read_csv(source, self.reporter)
            if rows is None:
                usable = False
            else:
                self.device_items += len(rows)
                self.entries.extend(rows)
        return usable


def load_inventory(
    path: Path, known_profiles: set[str] | None = None, environ: Mapping[str, str] | None = None
) -> Inventory:
    """Load the configuration at ``path`` (and its includes) into a resolved :class:`Inventory`.

    ``known_profiles``: profile names that exist besides those in the
    configuration's own ``settings.profile_dirs`` (which are added); None skips
    the profile reference check. ``environ`` replaces ``os.environ`` for
    ``${VAR}`` secret references. Raises :class:`ConfigError` listing every
    problem found; warnings (e.g. ignored CSV columns) end up in
    ``Inventory.warnings``.
    """
    path = Path(path)
    reporter = _Collector()
    loader = _Loader(os.environ if environ is None else environ, reporter)
    loader.load_file(path, None)
    files_usable = loader.read_inventories()
    extra_profiles = profile_names([Path(d) for d in loader.settings.profile_dirs])
    profiles = None if known_profiles is None else set(known_profiles) | extra_profiles
    devices, groups = resolve(
        loader.base,
        loader.defaults,
        loader.groups,
        loader.entries,
        set(loader.credential_origin),
        profiles,
        reporter,
    )
    chargers = loader.resolve_chargers(devices)
    maintenance = loader.maintenance_windows(devices, groups, chargers)
    loader.check_influx_precision(devices)
    loader.check_planning_area(devices)
    if loader.device_items == 0 and not loader.chargers and files_usable:
        reporter.error(
            loader.root_devices_where or Where(path, None, "devices"),
            "the inventory has no devices: add entries under devices: or a CSV file under inventory:",
        )
    if reporter.errors:
        raise ConfigError(reporter.ordered(reporter.errors))
    warnings = [str(issue) for issue in reporter.ordered(reporter.warnings)]
    log.debug(
        "loaded %s: %d devices, %d groups, %d credential sets, %d warnings",
        path,
        len(devices),
        len(groups),
        len(loader.credentials),
        len(warnings),
    )
    return Inventory(
        settings=loader.settings,
        credentials=loader.credentials,
        devices=devices,
        groups=groups,
        warnings=warnings,
        maintenance=maintenance,
        history=loader.history,
        influx=loader.influx[0] if loader.influx is not None else None,
        ocpp=loader.ocpp[0] if loader.ocpp is not None and chargers else None,
        chargers=chargers,
        planning=loader.planning,
        web=loader.web,
        opendata=loader.opendata,
    )
