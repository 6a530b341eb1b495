"""The inventory: devices, groups and defaults with inheritance, CSV import, the upstream graph.

Owns turning *validated* configuration sections into resolved
:class:`stadtnetz.model.Device` objects, and the rules about devices that do
not depend on the file format:

- the field rules for single values (device ids, names, kinds, addresses,
  coordinates), shared by the YAML schema in :mod:`stadtnetz.config` and the
  CSV import here, so both say the same thing about the same mistake;
- reading the CSV files operators keep in spreadsheets (header checks, one
  :class:`DeviceEntry` per row, every problem with its CSV line);
- inheritance: global settings -> ``defaults`` -> the group's parent chain
  (root first) -> the device's group -> the device itself (the device wins);
  ``tags`` accumulate (union, order kept); ``kinds`` and ``parent`` are not
  inherited;
- references and graph checks: unknown groups, parents, credentials and
  profiles, group parent cycles, a kind claimed by two groups, duplicate device
  ids, unknown upstream devices and upstream cycles, ``timeout < interval``.

It does not read YAML and knows nothing of pydantic; every problem goes to a
:class:`Reporter` with a :class:`Where` (file, line, field path), and
:mod:`stadtnetz.config` turns those into ``ConfigIssue`` objects.
"""

from __future__ import annotations

import csv
import ipaddress
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stadtnetz.model import DEFAULT_SNMP_PORT, Device, Settings

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit"
KIND_RULE = "a lowercase identifier (a-z, 0-9 and '_', starting with a letter), e.g. core_router"
ADDRESS_RULE = (
    "an IPv4 or IPv6 address with an optional port, e.g. 192.0.2.10, 192.0.2.10:1161, 2001:db8::1 or [2001:db8::1]:1161"
)

REQUIRED_COLUMNS = ("id", "kind", "address")
OPTIONAL_COLUMNS = ("site", "district", "lat", "lon", "upstream", "model", "tags", "group", "profiles", "credentials")
LIST_SEPARATOR = ";"  # between tags and profiles inside one CSV cell


# --- field rules --------------------------------------------------------------------------------------------------


def check_device_id(text: str) -> str | None:
    """The problem with ``text`` as a device id, or None if it is a valid one."""
    if NAME_PATTERN.fullmatch(text):
        return None
    return f"invalid device id {text!r}: use {NAME_RULE}"


def check_name(text: str, what: str = "name") -> str | None:
    """The problem with ``text`` as the name of a group, credential set, profile or tag, or None."""
    if NAME_PATTERN.fullmatch(text):
        return None
    return f"invalid {what} {text!r}: use {NAME_RULE}"


def check_kind(text: str) -> str | None:
    if KIND_PATTERN.fullmatch(text):
        return None
    return f"invalid kind {text!r}: a kind is {KIND_RULE}"


def check_coordinate(value: float, what: str) -> str | None:
    """Range check for ``lat`` (-90..90) and ``lon`` (-180..180)."""
    limit = 90.0 if what == "lat" else 180.0
    if not math.isfinite(value) or not -limit <= value <= limit:
        name = "latitude" if what == "lat" else "longitude"
        return f"{name} {value:g} is out of range: must be between {-limit:g} and {limit:g}"
    return None


def parse_port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"invalid port {text!r}: a port is a number from 1 to 65535")
    return int(text)


def parse_address(text: str) -> tuple[str, int]:
    """``host[:port]`` -> (host, port); IPv6 with a port is written ``[2001:db8::1]:1161``."""
    text = text.strip()
    host, port = text, DEFAULT_SNMP_PORT
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :] if end > 0 else ""
        if end < 0 or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid address {text!r}: expected {ADDRESS_RULE}")
        host = text[1:end]
        if rest:
            port = parse_port(rest[1:])
        try:
            parsed = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"invalid address {text!r}: expected {ADDRESS_RULE}") from None
        if parsed.version != 6:
            raise ValueError(f"invalid address {text!r}: only IPv6 addresses go in brackets; expected {ADDRESS_RULE}")
        return str(parsed), port
    if text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = parse_port(port_text)
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        raise ValueError(f"invalid address {text!r}: expected {ADDRESS_RULE}") from None


def format_duration(seconds: float) -> str:
    """30.0 -> '30s', 0.5 -> '500ms', 300 -> '5m', 3600 -> '1h', 86400 -> '1d'."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


# --- where things are written, and how problems are reported --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Where:
    """A place in the configuration: file, line (1-based, None if unknown) and field path."""

    file: Path
    line: int | None
    field: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else str(self.file)


class Reporter(Protocol):
    """Receives the problems found; errors make the configuration unusable, warnings do not."""

    def error(self, where: Where, message: str) -> None: ...

    def warning(self, where: Where, message: str) -> None: ...


_LAST_SEGMENT = re.compile(r"(\.[^.\[\]]*|\[\d+\])$")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an entry (device, group, defaults, CSV row) was written.

    ``prefix`` is its field path (``devices[3]``, ``groups.backbone``,
    ``inventory[0] row 17 (core-1)``). YAML entries carry the file's
    path -> line map, so a field inside them points at its own line; CSV rows
    (``tabular``) point at the row's line and write ``prefix: field``.
    """

    file: Path
    line: int | None
    prefix: str
    lines: Mapping[str, int] = field(default_factory=dict)
    tabular: bool = False

    def at(self, name: str | None = None) -> Where:
        if not name:
            return Where(self.file, self.line, self.prefix)
        if self.tabular:
            return Where(self.file, self.line, f"{self.prefix}: {name}")
        path = f"{self.prefix}.{name}" if self.prefix else name
        probe = path
        while probe and probe != self.prefix:
            if probe in self.lines:
                return Where(self.file, self.lines[probe], path)
            shorter = _LAST_SEGMENT.sub("", probe)
            if shorter == probe:
                break
            probe = shorter
        return Where(self.file, self.line, path)

    @property
    def label(self) -> str:
        return self.prefix or str(self.file)


# --- the validated input --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Layer:
    """What one level of the hierarchy sets; None means "inherit". Tags accumulate instead."""

    origin: Origin
    credentials: str | None = None
    profiles: tuple[str, ...] | None = None
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    ping: bool | None = None
    tags: tuple[str, ...] = ()


_BUILTIN_SETTINGS = Settings()
BUILTIN = Layer(
    origin=Origin(Path("<built-in>"), None, "the built-in defaults"),
    interval=_BUILTIN_SETTINGS.interval,
    timeout=_BUILTIN_SETTINGS.timeout,
    retries=_BUILTIN_SETTINGS.retries,
    ping=True,
)


@dataclass(frozen=True, slots=True)
class GroupEntry:
    name: str
    layer: Layer
    kinds: tuple[str, ...] = ()  # devices of these kinds belong here unless they name a group
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """A device as written (YAML item or CSV row), fields validated, nothing inherited yet.

    ``broken`` entries had invalid fields (already reported) and hold only the
    valid ones: they take part in every check (duplicate ids, references,
    upstream links), so one run reports everything, but produce no Device.
    """

    id: str
    layer: Layer
    kind: str = ""
    host: str = ""
    port: int = DEFAULT_SNMP_PORT
    site: str = ""
    district: str = ""
    lat: float | None = None
    lon: float | None = None
    upstream: str | None = None
    model: str = ""
    group: str | None = None
    broken: bool = False

    @property
    def origin(self) -> Origin:
        return self.layer.origin


@dataclass(frozen=True, slots=True)
class CsvSource:
    """One ``inventory:`` entry: a CSV file, optionally forcing a group on every row."""

    index: int  # position in the ``inventory:`` list of its YAML file
    file: Path  # already joined with the YAML file's directory
    origin: Origin  # of the ``inventory[i]`` entry in YAML
    group: str | None = None


# --- CSV import ------------------------------------------------------------------------------------------------------


def read_csv(source: CsvSource, reporter: Reporter) -> list[DeviceEntry] | None:
    """The rows of a CSV inventory as entries; None if the file itself is unusable (reported).

    Rows are numbered as a spreadsheet shows them (the header is row 1); each
    problem carries the CSV file and the line the row starts on. Empty cells
    mean "not set"; ``tags`` and ``profiles`` cells are ``;``-separated.
    Unknown columns are ignored with a warning.
    """
    label = f"inventory[{source.index}]"
    try:
        handle = source.file.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        reporter.error(
            source.origin.at("file"),
            f"cannot read CSV file {source.file}: {exc.strerror or exc}; paths are relative to the YAML file",
        )
        return None
    entries: list[DeviceEntry] = []
    with handle:
        reader = csv.reader(handle)
        header_where = Where(source.file, 1, f"{label} header")
        try:
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                reporter.error(
                    header_where,
                    f"empty CSV file: the first row must be a header with at least {','.join(REQUIRED_COLUMNS)}",
                )
                return None
            columns = _read_header(header, header_where, reporter)
            if columns is None:
                return None
            row_number = 1
            line = reader.line_num + 1
            for row in reader:
                row_number += 1
                if any(cell.strip() for cell in row):
                    entry = _read_row(source, label, row_number, line, row, columns, len(header), reporter)
                    if entry is not None:
                        entries.append(entry)
                line = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as exc:
            where = Where(source.file, reader.line_num or None, label)
            reporter.error(where, f"cannot read CSV: {exc}; save the file as UTF-8 CSV with ',' between columns")
            return None
    return entries


def _read_header(header: list[str], where: Where, reporter: Reporter) -> dict[str, int] | None:
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        reporter.error(
            where,
            "the header is not comma-separated: save the spreadsheet as CSV with ',' between columns "
            "(';' only separates tags and profiles inside a cell)",
        )
        return None
    columns: dict[str, int] = {}
    ok = True
    for index, raw in enumerate(header):
        name = raw.strip().lower()
        if not name:
            continue  # trailing empty columns from spreadsheet exports
        if name in columns:
            reporter.error(where, f"column {name!r} appears twice; each column may appear once")
            ok = False
        elif name not in known:
            reporter.warning(where, f"unknown column {name!r} is ignored (known columns: {', '.join(known)})")
        else:
            columns[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            reporter.error(
                where,
                f"missing required column {name!r} (required: {', '.join(REQUIRED_COLUMNS)}; "
                f"optional: {', '.join(OPTIONAL_COLUMNS)})",
            )
            ok = False
    return columns if ok else None


def _read_row(
    source: CsvSource,
    label: str,
    row_number: int,
    line: int,
    row: list[str],
    columns: dict[str, int],
    width: int,
    reporter: Reporter,
) -> DeviceEntry | None:
    cells = {name: (row[index].strip() if index < len(row) else "") for name, index in columns.items()}
    device_id = cells["id"]
    prefix = f"{label} row {row_number}" + (f" ({device_id})" if device_id else "")
    origin = Origin(source.file, line, prefix, tabular=True)
    broken = False

    def problem(column: str, message: str) -> None:
        nonlocal broken
        broken = True
        reporter.error(origin.at(column), message)

    if len(row) > width and any(cell.strip() for cell in row[width:]):
        problem("row", f"the row has {len(row)} cells but the header has {width} columns; quote cells that hold ','")
    for name in REQUIRED_COLUMNS:
        if not cells[name]:
            problem(name, f"missing {name} (required columns: {', '.join(REQUIRED_COLUMNS)})")
    if device_id and (message := check_device_id(device_id)):
        problem("id", message)
    if cells["kind"] and (message := check_kind(cells["kind"])):
        problem("kind", message)
    host, port = "", DEFAULT_SNMP_PORT
    if cells["address"]:
        try:
            host, port = parse_address(cells["address"])
        except ValueError as exc:
            problem("address", str(exc))
    coordinates: dict[str, float | None] = {"lat": None, "lon": None}
    for name in coordinates:
        text = cells.get(name, "")
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            problem(name, f"expected a number with a decimal point, e.g. 51.84, got {text!r}")
            continue
        if message := check_coordinate(value, name):
            problem(name, message)
        else:
            coordinates[name] = value
    upstream = cells.get("upstream") or None
    if upstream and (message := check_device_id(upstream)):
        problem("upstream", message.replace("device id", "upstream device id"))
        upstream = None
    lists: dict[str, tuple[str, ...]] = {}
    for name, what in (("tags", "tag"), ("profiles", "profile name")):
        items = tuple(item.strip() for item in cells.get(name, "").split(LIST_SEPARATOR) if item.strip())
        for item in items:
            if message := check_name(item, what):
                problem(name, f"{message}; separate several with ';'")
        lists[name] = tuple(item for item in items if not check_name(item))
    names: dict[str, str | None] = {}
    for name, what in (("group", "group name"), ("credentials", "credentials name")):
        value = cells.get(name) or None
        if value and (message := check_name(value, what)):
            problem(name, message)
            value = None
        names[name] = value
    group = names["group"]
    if source.group is not None:
        if group is not None and group != source.group:
            reporter.warning(
                origin.at("group"),
                f"the row names group {group!r} but {source.origin.prefix}.group forces {source.group!r}; "
                "the forced group wins (remove one of them)",
            )
        group = source.group
    layer = Layer(
        origin=origin,
        credentials=names["credentials"],
        profiles=lists["profiles"] or None,
        tags=lists["tags"],
    )
    if broken and (not device_id or check_device_id(device_id)):
        return None  # without a valid id a row takes part in no further check
    return DeviceEntry(
        id=device_id,
        layer=layer,
        kind="" if check_kind(cells["kind"]) else cells["kind"],
        host=host,
        port=port,
        site=cells.get("site", ""),
        district=cells.get("district", ""),
        lat=coordinates["lat"],
        lon=coordinates["lon"],
        upstream=upstream,
        model=cells.get("model", ""),
        group=group,
        broken=broken,
    )


# --- resolution --------------------------------------------------------------------------------------------------


def _defined(names: Collection[str], what: str, section: str) -> str:
    if not names:
        return f"no {what} are defined; add them under {section}:"
    return f"defined: {', '.join(sorted(names))}"


@dataclass(slots=True)
class _Resolver:
    base: list[Layer]  # the built-in defaults, then the global settings
    defaults: Layer
    groups: Mapping[str, GroupEntry]
    credential_names: Collection[str]
    known_profiles: Collection[str] | None
    reporter: Reporter
    chains: dict[str, list[Layer]] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)  # kind -> group

    def check_references(self, layer: Layer) -> None:
        if layer.credentials is not None and layer.credentials not in self.credential_names:
            self.reporter.error(
                layer.origin.at("credentials"),
                f"unknown credentials {layer.credentials!r} "
                f"({_defined(self.credential_names, 'credentials', 'credentials')})",
            )
        if layer.profiles is not None and self.known_profiles is not None:
            for index, name in enumerate(layer.profiles):
                if name not in self.known_profiles:
                    where = layer.origin.at("profiles" if layer.origin.tabular else f"profiles[{index}]")
                    available = ", ".join(sorted(self.known_profiles)) or "none"
                    self.reporter.error(where, f"unknown profile {name!r} (available: {available})")

    def check_timing(self, chain: Sequence[Layer]) -> None:
        """``timeout < interval`` for the values in effect at the last layer of ``chain``, if it sets either."""
        last = chain[-1]
        if last.interval is None and last.timeout is None:
            return
        interval_layer = next(layer for layer in reversed(chain) if layer.interval is not None)
        timeout_layer = next(layer for layer in reversed(chain) if layer.timeout is not None)
        interval, timeout = interval_layer.interval, timeout_layer.timeout
        assert interval is not None and timeout is not None
        if timeout < interval:
            return
        sources = []
        for name, source in (("timeout", timeout_layer), ("interval", interval_layer)):
            sources.append(f"{name} set here" if source is last else f"{name} from {source.origin.label}")
        self.reporter.error(
            last.origin.at("timeout" if last.timeout is not None else "interval"),
            f"timeout {format_duration(timeout)} must be less than interval {format_duration(interval)} "
            f"({', '.join(sources)}); a poll must finish before the next one starts",
        )

    def prepare_groups(self) -> None:
        for name, group in self.groups.items():
            if group.parent is not None and group.parent not in self.groups:
                self.reporter.error(
                    group.layer.origin.at("parent"),
                    f"unknown parent group {group.parent!r} ({_defined(self.groups, 'groups', 'groups')})",
                )
            for index, kind in enumerate(group.kinds):
                owner = self.claims.setdefault(kind, name)
                if owner != name:
                    first = self.groups[owner].layer.origin
                    self.reporter.error(
                        group.layer.origin.at(f"kinds[{index}]"),
                        f"kind {kind!r} is already claimed by group {owner!r} ({first.at('kinds')}); "
                        "a kind may belong to one group only (name the group on the device instead)",
                    )
        self._report_parent_cycles()
        for name, group in self.groups.items():
            self.check_references(group.layer)
            self.check_timing([*self.base, self.defaults, *self.chain(name)])

    def _report_parent_cycles(self) -> None:
        order = {name: position for position, name in enumerate(self.groups)}
        done: set[str] = set()
        for start in self.groups:
            path: list[str] = []
            current: str | None = start
            while current is not None and current in self.groups and current not in done:
                if current in path:
                    cycle = path[path.index(current) :]
                    first = min(cycle, key=order.__getitem__)
                    turn = cycle.index(first)
                    ring = cycle[turn:] + cycle[:turn] + [first]
                    self.reporter.error(
                        self.groups[first].layer.origin.at("parent"),
                        f"group parent cycle: {' -> '.join(ring)}; a group cannot inherit from itself",
                    )
                    break
                path.append(current)
                current = self.groups[current].parent
            done.update(path)

    def chain(self, name: str) -> list[Layer]:
        """Layers of group ``name``: its parent chain, root first, then the group itself."""
        if name not in self.chains:
            names: list[str] = []
            current: str | None = name
            while current is not None and current in self.groups and current not in names:
                names.append(current)
                current = self.groups[current].parent
            self.chains[name] = [self.groups[n].layer for n in reversed(names)]
        return self.chains[name]

    def device(self, entry: DeviceEntry) -> Device:
        group = entry.group
        if group is not None and group not in self.groups:
            self.reporter.error(
                entry.origin.at("group"),
                f"unknown group {group!r} ({_defined(self.groups, 'groups', 'groups')})",
            )
            group = None
        elif group is None:
            group = self.claims.get(entry.kind) if entry.kind else None
        self.check_references(entry.layer)
        chain = [*self.base, self.defaults, *(self.chain(group) if group else ()), entry.layer]
        self.check_timing(chain)

        def last(attribute: str) -> object:
            for layer in reversed(chain):
                value = getattr(layer, attribute)
                if value is not None:
                    return value
            return None

        tags = tuple(dict.fromkeys(tag for layer in chain for tag in layer.tags))
        profiles = last("profiles") or ()
        return Device(
            id=entry.id,
            kind=entry.kind,
            host=entry.host,
            port=entry.port,
            site=entry.site,
            district=entry.district,
            lat=entry.lat,
            lon=entry.lon,
            upstream=entry.upstream,
            tags=tags,
            group=group,
            profiles=tuple(profiles),  # type: ignore[arg-type]
            credentials=last("credentials"),  # type: ignore[arg-type]
            interval=float(last("interval")),  # type: ignore[arg-type]
            timeout=float(last("timeout")),  # type: ignore[arg-type]
            retries=int(last("retries")),  # type: ignore[call-overload]
            ping=bool(last("ping")),
            model=entry.model,
        )


def resolve(
    base: Layer,
    defaults: Layer,
    groups: Mapping[str, GroupEntry],
    entries: Sequence[DeviceEntry],
    credential_names: Collection[str],
    known_profiles: Collection[str] | None,
    reporter: Reporter,
) -> tuple[list[Device], dict[str, tuple[str, ...]]]:
    """Resolve every entry into a Device; returns the devices and group name -> device ids.

    ``base`` is the global settings as a layer holding only what the file sets
    (the built-in defaults, :data:`BUILTIN`, sit below it). Problems go to
    ``reporter``; the caller decides whether the result is usable.
    ``known_profiles`` None skips the profile name check.
    """
    resolver = _Resolver([BUILTIN, base], defaults, groups, credential_names, known_profiles, reporter)
    resolver.check_timing([BUILTIN, base])
    resolver.check_references(defaults)
    resolver.check_timing([BUILTIN, base, defaults])
    resolver.prepare_groups()

    first_seen: dict[str, DeviceEntry] = {}
    unique: list[DeviceEntry] = []
    for entry in entries:
        previous = first_seen.setdefault(entry.id, entry)
        if previous is not entry:
            reporter.error(
                entry.origin.at("id"),
                f"duplicate device id {entry.id!r} (first defined at {previous.origin.at('id')}); "
                "ids must be unique across the whole inventory",
            )
            continue
        unique.append(entry)

    devices = [resolver.device(entry) for entry in unique]  # checks run on broken entries too
    devices = [device for device, entry in zip(devices, unique, strict=True) if not entry.broken]
    _check_upstream(unique, set(first_seen), reporter)

    members: dict[str, list[str]] = {name: [] for name in groups}
    for device in devices:
        if device.group is not None:
            members[device.group].append(device.id)
    without = [device.id for device in devices if device.credentials is None]
    if without:
        first = next(entry for entry in unique if entry.id == without[0])
        example = ", ".join(without[:3]) + (", ..." if len(without) > 3 else "")
        reporter.warning(
            first.origin.at(),
            f"{len(without)} device(s) have no SNMP credentials ({example}); "
            "set credentials in defaults, their group or the device",
        )
    return devices, {name: tuple(ids) for name, ids in members.items()}


def _check_upstream(entries: Sequence[DeviceEntry], known_ids: set[str], reporter: Reporter) -> None:
    upstream_of: dict[str, str] = {}
    by_id = {entry.id: entry for entry in entries}
    for entry in entries:
        if entry.upstream is None:
            continue
        if entry.upstream not in known_ids:
            reporter.error(
                entry.origin.at("upstream"),
                f"unknown device {entry.upstream!r}: upstream must be the id of another device in the inventory",
            )
        elif entry.upstream in by_id:
            upstream_of[entry.id] = entry.upstream
    order = {entry.id: position for position, entry in enumerate(entries)}
    done: set[str] = set()
    for start in upstream_of:
        path: list[str] = []
        current: str | None = start
        while current is not None and current not in done:
            if current in path:
                cycle = path[path.index(current) :]
                first = min(cycle, key=order.__getitem__)
                turn = cycle.index(first)
                ring = cycle[turn:] + cycle[:turn] + [first]
                reporter.error(
                    by_id[first].origin.at("upstream"),
                    f"upstream cycle: {' -> '.join(ring)}; following upstream must end at a device without one",
                )
                break
            path.append(current)
            current = upstream_of.get(current)
        done.update(path)
