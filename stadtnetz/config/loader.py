"""Loading the configuration: ONE YAML file and the files it includes, into a :class:`stadtnetz.model.Inventory`.

Owns the order of the work: reading each file once (includes, cycles), checking every section against the schema
(:mod:`stadtnetz.config.schema`) and reporting *every* problem of the configuration at once as a
:class:`~stadtnetz.config.errors.ConfigError` whose lines read ``FILE:LINE: FIELD: MESSAGE``. Line numbers come
from :mod:`stadtnetz.config.yaml_lines`; pydantic's error locations are mapped back onto them. What each section
turns into is :mod:`stadtnetz.config.sections`; the checks across sections are
:mod:`stadtnetz.config.references`; resolving devices (inheritance, upstream checks) is
:mod:`stadtnetz.config.inventory`, reading CSV files :mod:`stadtnetz.config.csv_inventory`.

The format (every section optional, but the inventory must end up with at
least one device)::

    include: [groups.yaml]            # other YAML files, relative to this one; each is read once,
                                      # a missing file or an include cycle is an error
    settings:                         # global settings, in at most one file
      interval: 60s                   # durations: "500ms", "30s", "5m", "1h" or a number of seconds (> 0)
      timeout: 2s                     # per SNMP request attempt; must be < interval (everywhere it is set)
      retries: 1                      # whole number >= 0
      concurrency: 256                # devices polled at once, >= 1
      max_in_flight_per_device: 1     # >= 1
      max_repetitions: 25             # GETBULK max-repetitions, >= 1
      listen: 127.0.0.1:9873          # host:port of /metrics ([::1]:9873 for IPv6)
      profile_dirs: [profiles/]       # extra profile directories, relative to this file; must exist
      mib_dirs: [mibs/]               # pysmi-compiled MIB modules for symbolic names in profiles
      ping_count: 5                   # echo requests per device and interval, spread over the interval
      ping_timeout: 1s                # per echo request
      degraded_loss: 20%              # a responding device is degraded at this ping loss ...
      degraded_rtt: 150ms             # ... or this average round-trip time
      flap_high: 50%                  # flapping starts at this weighted share of state changes (last 21)
      flap_low: 25%                   # ... and ends below this one
      trap_listen: 127.0.0.1:162      # receive SNMP traps here (v1/v2c); off when not given
      trap_community: ${STADTNETZ_TRAP_COMMUNITY}  # accepted besides each device's own community (optional)
      trap_v3_users:                  # SNMPv3 users whose traps and informs are accepted (on the same port)
        - user: noc
          auth_protocol: sha          # none, md5, sha, sha224, sha256, sha384, sha512
          auth_key: ${STADTNETZ_TRAP_AUTH_KEY}   # references only, as communities
          priv_protocol: aes          # none, des, aes, aes192, aes256
          priv_key: ${STADTNETZ_TRAP_PRIV_KEY}
          engine_id: '0x80001f8880c71100000000000b'  # the sender's snmpEngineID (needed for traps, not informs)
    credentials:                      # named SNMP credential sets
      public-ro:
        version: 2c                   # "1" or "2c" (default 2c); SNMPv3 comes later
        community: ${STADTNETZ_SNMP_COMMUNITY}   # or file:secrets/community (relative to this file);
                                                 # a literal value is an error
    defaults:                         # applies to every device; in at most one file
      credentials: public-ro
      profiles: [system, interfaces]
      interval: 60s                   # also: timeout, retries, tags
    groups:
      backbone:
        kinds: [core_router, distribution_switch]  # devices of these kinds belong here unless they name a
                                                   # group; a kind may be claimed by one group only
        credentials: backbone-ro      # also: profiles, interval, timeout, retries, tags
        parent: null                  # a group inherits everything its parent sets (not kinds) and may override
    devices:
      - id: core-1                    # [A-Za-z0-9][A-Za-z0-9._-]*, unique over the whole inventory (CSV too)
        kind: core_router             # lowercase identifier: [a-z][a-z0-9_]*
        address: 127.20.0.1:1161      # IPv4/IPv6 literal, optional :port ([2001:db8::1]:1161); default port 161
        site: PoP Altstadt            # optional text: site, district, model
        lat: 51.84                    # -90..90; lon -180..180
        upstream: null                # id of the device this one hangs off (no cycles)
        group: backbone               # optional; else the group claiming its kind; else none
        tags: [core]                  # accumulate: defaults, parent groups, group, device (order kept)
        # optional overrides: profiles, credentials, interval, timeout, retries
    inventory:                        # CSV files operators keep in spreadsheets, relative to this file
      - file: example-city-inventory.csv
        group: null                   # optional: force this group on every row (wins over the group column)
    maintenance:                      # planned work (stadtnetz.maintenance); alerts stay quiet while open
      - name: splice-nordstadt        # unique; names the silences `stadtnetz maintenance apply` makes
        reason: Spleißarbeiten        # optional text, shown in the silence
        match: {devices: [dist-003]}  # devices, sites, districts, kinds, tags, groups: keys narrow each other,
                                      # the values of one key are alternatives
        start: 2026-11-25T22:00+01:00 # once: start and end (ISO 8601; without an offset: local time)
        end: 2026-11-26T04:00+01:00
      - name: hotspot-firmware
        match: {kinds: [hotspot], districts: [Altstadt]}
        every: [tue]                  # recurring: weekdays (or daily, weekdays, weekend) ...
        at: "03:00"                   # ... at this local time (quoted) ...
        duration: 2h                  # ... for this long
        timezone: Europe/Berlin       # the default
    history:                          # the embedded history (stadtnetz.history); in at most one file
      path: history.sqlite            # SQLite file, relative to this file; not given: no history is kept
      retention:                      # how long rows are kept (durations, "400d" style); the defaults:
        transitions: 400d             # status changes
        outages: 400d                 # the outage log
        rollups: 90d                  # hourly series rollups (the bulk: ~16 MB a day for 650 devices)
        availability: 400d            # hourly availability seconds per device (small)
      max_pending: 500000             # items (one series' sample, one status change) waiting for the writer; when
                                      # full (disk full, writer stuck) the OLDEST samples are dropped, then transitions
    influx:                           # write every device's points to InfluxDB 2 (exporters.influx); in one file
      url: http://127.0.0.1:8086      # the server (http or https)
      org: stadtwerk
      bucket: stadtnetz
      token: ${STADTNETZ_INFLUX_TOKEN}  # or file:PATH; a literal token is an error (optional: servers without auth)
      precision: s                    # s, ms, us, ns; must carry every poll interval (500ms needs ms)
      batch_size: 5000                # points per write request, at most
      flush_interval: 1s              # a smaller batch waits at most this long
      timeout: 10s                    # per write request
      max_retry_interval: 30s         # while writes fail, retries back off from 0.5 s up to this
      gzip: true
      spool:                          # points go to disk first and stay until the server acknowledged them
        path: var/influx-spool        # a directory, relative to this file; one per stadtnetz process
        max_bytes: 1GiB               # 512MiB, 2GB, or bytes (>= 1MiB); when full the OLDEST points are dropped
        fsync: interval               # always (every append), interval (every fsync_interval), never
        fsync_interval: 1s
    ocpp:                             # the OCPP 1.6J endpoint EV chargers dial in to (collectors.ocpp); in one file
      listen: 127.0.0.1:9000          # chargers connect to ws://HOST:PORT/<any path>/<charger id>
      heartbeat_interval: 5m          # told to chargers at boot (whole seconds)
      offline_after: 3                # silent for this many heartbeat intervals: offline (> 1)
      password: ${STADTNETZ_OCPP_PASSWORD}  # security profile 1 (HTTP Basic) for every charger without its own
      auth: basic                     # the default: every charger must have a password (its own or the one
                                      # above), else an error; none: any charger id gets in without (a WARNING)
      tls:                            # security profile 2 (wss://); both PEM files, relative to this file
        certificate: tls/ocpp.crt
        key: tls/ocpp.key
      availability_target: 97%        # per connector over the window (alerts and `report chargers` mark below)
      availability_window: 30d        # of the stadtnetz_charger_connector_availability_ratio metric
    chargers:                         # the charge points; only these ids are accepted
      - id: cp-001                    # the charge point id (device id rule), the last segment of its URL
        device: charger-001           # optional: its modem/router among the devices (site, district, topology)
        site: Parkhaus Altstadt       # optional; default the modem's; also district
        connectors: 2                 # optional: the connectors it has (else those it reports)
        password: file:secrets/cp-001 # optional: its own Basic-auth password (a reference, as communities)
        tags: [dc]                    # optional, for maintenance windows (as group:)

Names of groups, credential sets, profiles and tags follow the device id rule.
CSV columns: ``id,kind,address`` required; ``site,district,lat,lon,upstream,
model,tags,group,profiles,credentials`` optional (``tags`` and ``profiles``
are ``;``-separated); unknown columns are ignored and reported as warnings
(:attr:`stadtnetz.model.Inventory.warnings`).

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
from stadtnetz.model import HistorySettings, InfluxSettings, Inventory, OcppSettings, Settings, SnmpCredentials
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
        self.chargers: list[tuple[ChargerSpec, _Document, str]] = []

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
    )
