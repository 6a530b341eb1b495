"""The inventory: devices, groups and defaults with inheritance, the upstream graph.

Owns turning *validated* configuration entries (YAML items and CSV rows, see
:mod:`stadtnetz.config.csv_inventory`) into resolved :class:`stadtnetz.model.Device` objects:

- inheritance: global settings -> ``defaults`` -> the group's parent chain
  (root first) -> the device's group -> the device itself (the device wins);
  ``tags`` accumulate (union, order kept); ``kinds`` and ``parent`` are not
  inherited;
- references and graph checks: unknown groups, parents, credentials and
  profiles, group parent cycles, a kind claimed by two groups, duplicate device
  ids, unknown upstream devices and upstream cycles, ``timeout < interval``.

It does not read YAML and knows nothing of pydantic; every problem goes to a
:class:`~stadtnetz.config.errors.Reporter` with a :class:`~stadtnetz.config.errors.Where`
(file, line, field path), and the loader turns those into ``ConfigIssue`` objects.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stadtnetz.config.errors import Origin, Reporter
from stadtnetz.model import DEFAULT_SNMP_PORT, Device, Settings
from stadtnetz.units import format_duration

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
    backhaul: str = "fibre"
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
            backhaul=entry.backhaul,
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
