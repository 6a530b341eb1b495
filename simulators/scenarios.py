"""Fault injection into the simulated city, at run time.

Owns what can go wrong with a simulated device and how it is switched on and
off: a device falls silent (to every protocol it speaks), answers slowly, an
interface goes down, the device reboots (sysUpTime and counters restart), its
32-bit octet counters are brought up to a wrap, or an optical receive level
starts degrading; the link to it degrades (loss, added round-trip time). Every
fault takes effect at the clock's current instant.

On top, named scenarios as text commands (``fibre-cut dist-003``,
``degrade hs-0001 loss=30% rtt=80ms``, ``flap hs-0002 period=10s``, ...), run
one at a time (CLI, control API, tests) or from a scenario file with times.
With the city's charge points running (:mod:`simulators.charge_points`), a
device fault reaches the chargers behind it (their connections drop while
their modem or a device above it is silent, or reboots), and the ``charger-*``
commands fault, silence and reboot a charger itself.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from simulators.behaviour import MASK32, CityRuntime, OpticsDegradation
from stadtnetz.units import parse_duration, parse_ratio

if TYPE_CHECKING:
    from simulators.charge_points import ChargePoints


class Faults:
    """The fault switches of one :class:`CityRuntime`."""

    def __init__(self, city: CityRuntime) -> None:
        self.city = city

    def _now(self) -> float:
        return self.city.clock.time()

    def silence(self, device_id: str, seconds: float = math.inf) -> None:
        """The device stops answering, for ``seconds`` or until :meth:`restore`."""
        self.city.device(device_id).silent_until = self._now() + seconds

    def restore(self, device_id: str) -> None:
        """Undo :meth:`silence`, :meth:`slow` and :meth:`degrade`."""
        device = self.city.device(device_id)
        device.silent_until = 0.0
        device.delay = 0.0
        device.extra_loss = 0.0
        device.extra_rtt = 0.0

    def slow(self, device_id: str, delay_seconds: float) -> None:
        """Every answer of the device is sent ``delay_seconds`` late."""
        if delay_seconds < 0:
            raise ValueError("a delay cannot be negative")
        self.city.device(device_id).delay = delay_seconds

    def degrade(self, device_id: str, loss: float = 0.3, rtt: float = 0.080) -> None:
        """The link to the device gets bad until :meth:`restore`: a share ``loss`` of exchanges is lost
        (pings and SNMP alike) and every answer comes ``rtt`` seconds later than the link's usual round trip.

        Unlike :meth:`slow` (a busy agent: SNMP answers late, pings do not), this is the network.
        """
        if not 0.0 <= loss <= 1.0:
            raise ValueError("loss is a probability between 0 and 1")
        if rtt < 0:
            raise ValueError("an added round-trip time cannot be negative")
        device = self.city.device(device_id)
        device.extra_loss = loss
        device.extra_rtt = rtt

    def interface_down(self, device_id: str, if_index: int) -> None:
        device = self.city.device(device_id)
        interface = device.interface(if_index)
        interface.forced_down = True
        interface.set_down(device.epoch, self._now())

    def interface_up(self, device_id: str, if_index: int) -> None:
        device = self.city.device(device_id)
        interface = device.interface(if_index)
        interface.forced_down = False
        interface.set_up(device.epoch, self._now())

    def reboot(self, device_id: str, downtime: float = 0.0) -> None:
        """The device restarts: silent for ``downtime`` seconds, then sysUpTime and every counter from zero."""
        self.city.device(device_id).reboot(self._now(), downtime)

    def counter_wrap(self, device_id: str, in_seconds: float = 30.0, if_index: int | None = None) -> None:
        """Bring the 32-bit octet counters (ifInOctets/ifOutOctets) to wrap ``in_seconds`` from now.

        The device's counters move forward to just below a multiple of 2**32, as if
        it had carried a burst of traffic; the 64-bit ifHC counters move with
        them, so both views of the device stay consistent (ifInOctets is always
        the low 32 bits of ifHCInOctets). A poller that read the device before
        the injection sees that burst once, then the wrap.
        """
        device = self.city.device(device_id)
        now = self._now()
        targets = device.interfaces if if_index is None else [device.interface(if_index)]
        for interface in targets:
            if not interface.oper_up:
                continue
            octets_in, octets_out = interface.octets(device.epoch, now)
            rate_in, rate_out = interface.rates(now)
            for direction, value, rate in (("in", octets_in, rate_in), ("out", octets_out, rate_out)):
                lead = max(1, int(rate * in_seconds))
                target = (MASK32 + 1 - lead) % (MASK32 + 1)
                shift = (target - (value & MASK32)) % (MASK32 + 1)
                if direction == "in":
                    interface.base_in += shift
                else:
                    interface.base_out += shift
            interface.cached_at = math.nan

    def degrade_optics(self, device_id: str, if_index: int, db_per_hour: float) -> None:
        """The receive level on an optical port starts falling by ``db_per_hour`` (dirty connector, bent fibre)."""
        device = self.city.device(device_id)
        if not any(s.if_index == if_index for s in device.spec.sensors):
            raise KeyError(f"{device_id} has no optical sensors on ifIndex {if_index}")
        device.degradations[if_index] = OpticsDegradation(self._now(), db_per_hour)

    def repair_optics(self, device_id: str, if_index: int) -> None:
        self.city.device(device_id).degradations.pop(if_index, None)

    def clear(self, device_id: str) -> None:
        """Remove every fault of the device except what a reboot already did."""
        device = self.city.device(device_id)
        self.restore(device_id)
        device.degradations.clear()
        now = self._now()
        for interface in device.interfaces:
            if interface.forced_down:
                interface.forced_down = False
                interface.set_up(device.epoch, now)


# ----------------------------------------------------------------------------- named scenarios


class ScenarioError(ValueError):
    """A scenario command or file that cannot be carried out; the message says what is allowed."""


COMMANDS = {
    "fibre-cut": "fibre-cut DEVICE: the device and all below it stop answering; the upstream port to it goes down",
    "repair": "repair DEVICE: undo every fault of the device and of everything below it",
    "flap": "flap DEVICE [period=10s] [times=N]: silent and back every period (forever, or N times)",
    "degrade": "degrade DEVICE [loss=30%] [rtt=80ms]: the link loses packets and adds round-trip time",
    "reboot": "reboot DEVICE [downtime=0s]: silent for the downtime, then uptime and counters from zero",
    "silence": "silence DEVICE: the device alone stops answering",
    "restore": "restore DEVICE: undo silence, slowness and link degradation of the device",
    "slow": "slow DEVICE delay=2s: SNMP answers come late",
    "interface-down": "interface-down DEVICE ifindex=N",
    "interface-up": "interface-up DEVICE ifindex=N",
    "counter-wrap": "counter-wrap DEVICE [in=30s] [ifindex=N]: the 32-bit octet counters wrap soon",
    "degrade-optics": "degrade-optics DEVICE ifindex=N [rate=6]: receive level falls by rate dB per hour",
    "charger-fault": "charger-fault CHARGER connector=N error=CODE [vendor=TEXT]: the connector reports Faulted with "
    "an OCPP 1.6 error code (GroundFailure, OverCurrentFailure, ...) and the vendor's own",
    "charger-clear": "charger-clear CHARGER [connector=N]: the connector's fault (or every connector's) is cleared",
    "charger-offline": "charger-offline CHARGER [connection=open|closed]: the charger falls silent while its modem "
    "answers (its WebSocket left open, or closed)",
    "charger-online": "charger-online CHARGER: the charger talks again (once its modem and the devices above answer)",
    "charger-reboot": "charger-reboot CHARGER: the charger restarts: its connection drops, it boots again, every "
    "connector Available",
}
CHARGER_COMMANDS = frozenset(name for name in COMMANDS if name.startswith("charger-"))


class Scenarios:
    """Named faults as text commands (``fibre-cut dist-003``), for the CLI, scenario files and tests.

    Must be used on the simulation's event loop (``flap`` and the chargers' calls are scheduled there).
    ``chargers``: the city's running charge points, if any (may be set later, once they run).
    """

    def __init__(self, faults: Faults, chargers: ChargePoints | None = None) -> None:
        self.faults = faults
        self.city = faults.city
        self.chargers = chargers
        self._children: dict[str, list[str]] = {}
        for device in self.city.city.devices:
            if device.upstream is not None:
                self._children.setdefault(device.upstream, []).append(device.id)
        self._flapping: dict[str, asyncio.TimerHandle] = {}

    def subtree(self, device_id: str) -> list[str]:
        """The device and everything below it in the simulated city."""
        found, queue = [], [device_id]
        while queue:
            current = queue.pop()
            found.append(current)
            queue.extend(self._children.get(current, ()))
        return found

    def run(self, command: str) -> str:
        """Carry out one command; return what was done, in words."""
        words = command.split()
        if not words:
            raise ScenarioError(f"empty command; one of: {', '.join(COMMANDS)}")
        name, *rest = words
        if name not in COMMANDS:
            raise ScenarioError(f"unknown scenario {name!r}; one of: {', '.join(COMMANDS)}")
        if name in CHARGER_COMMANDS:
            return self._charger_command(name, rest)
        if not rest:
            raise ScenarioError(f"{name} needs a device: {COMMANDS[name]}")
        device_id, options = rest[0], _options(rest[1:], COMMANDS[name])
        if device_id not in self.city.devices:
            raise ScenarioError(f"{name}: no simulated device {device_id!r}")
        handler = getattr(self, "_" + name.replace("-", "_"))
        try:
            done = handler(device_id, options)
        except (KeyError, ValueError) as exc:
            raise ScenarioError(f"{name} {device_id}: {exc}; usage: {COMMANDS[name]}") from None
        return done + self._follow()

    def _follow(self) -> str:
        """Let the chargers follow what the command did to the devices on their paths; in words, if any changed."""
        if self.chargers is None:
            return ""
        cut, back = self.chargers.follow_network()
        said = ""
        if cut:
            said += f"; {_chargers(cut)} cut off"
        if back:
            said += f"; {_chargers(back)} reconnecting"
        return said

    def _charger_command(self, name: str, rest: list[str]) -> str:
        if not rest:
            raise ScenarioError(f"{name} needs a charger: {COMMANDS[name]}")
        charger_id, options = rest[0], _options(rest[1:], COMMANDS[name])
        chargers = self.chargers
        if chargers is None or not len(chargers):
            raise ScenarioError(
                f"{name}: no simulated chargers run here (`stadtnetz simulate --ocpp URL` or the demo starts them)"
            )
        if charger_id not in chargers.specs:
            ids = sorted(chargers.specs)
            raise ScenarioError(f"{name}: no simulated charger {charger_id!r} (the city has {ids[0]} .. {ids[-1]})")
        handler = getattr(self, "_" + name.replace("-", "_"))
        try:
            return handler(chargers, charger_id, options)
        except (KeyError, ValueError) as exc:
            raise ScenarioError(f"{name} {charger_id}: {exc}; usage: {COMMANDS[name]}") from None

    def _facing_ports(self, device_id: str) -> list[tuple[str, int]]:
        """The ports of the device's upstream that connect to it: (upstream id, ifIndex)."""
        upstream = self.faults.city.device(device_id).spec.upstream
        if not upstream:
            return []
        return [
            (upstream, interface.spec.index)
            for interface in self.faults.city.device(upstream).interfaces
            if interface.spec.connects_to == device_id
        ]

    def _fibre_cut(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, set())
        affected = self.subtree(device_id)
        for other in affected:
            self.faults.silence(other)
        facing = self._facing_ports(device_id)
        for upstream, if_index in facing:  # loss of light: the port at the other end of the fibre goes down
            self.faults.interface_down(upstream, if_index)
        ports = "".join(f", {upstream} ifIndex {if_index} down" for upstream, if_index in facing)
        return f"fibre cut at {device_id}: {len(affected)} devices silent{ports}"

    def _repair(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, set())
        affected = self.subtree(device_id)
        for other in affected:
            handle = self._flapping.pop(other, None)
            if handle is not None:
                handle.cancel()
            self.faults.clear(other)
        for upstream, if_index in self._facing_ports(device_id):
            self.faults.interface_up(upstream, if_index)
        return f"repaired {device_id}: {len(affected)} devices answering again"

    def _flap(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, {"period", "times"})
        period = parse_duration(options.get("period", "10s"))
        times = int(options["times"]) if "times" in options else None
        loop = asyncio.get_running_loop()
        previous = self._flapping.pop(device_id, None)
        if previous is not None:
            previous.cancel()

        def toggle(remaining: int | None, silent: bool) -> None:
            if silent:
                self.faults.silence(device_id)
            else:
                self.faults.restore(device_id)
            if remaining is not None:
                remaining -= 1
                if remaining <= 0:
                    self.faults.restore(device_id)
                    self._flapping.pop(device_id, None)
                    self._follow()
                    return
            self._flapping[device_id] = loop.call_later(period, toggle, remaining, not silent)
            self._follow()

        toggle(None if times is None else 2 * times, True)
        return f"{device_id} flapping every {period:g} s" + (f", {times} times" if times else "")

    def _degrade(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, {"loss", "rtt"})
        loss = parse_ratio(options["loss"]) if "loss" in options else 0.3
        rtt = parse_duration(options["rtt"]) if "rtt" in options else 0.080
        self.faults.degrade(device_id, loss=loss, rtt=rtt)
        return f"{device_id} degraded: {loss:.0%} loss, +{rtt * 1000:g} ms round trip"

    def _reboot(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, {"downtime"})
        downtime = parse_duration(options["downtime"]) if "downtime" in options else 0.0
        self.faults.reboot(device_id, downtime)
        said = f"{device_id} rebooting" + (f", silent for {downtime:g} s" if downtime else "")
        if self.chargers is not None and (dropped := self.chargers.interrupt(self.subtree(device_id))):
            said += f"; {_chargers(dropped)} disconnected"
        return said

    def _silence(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, set())
        self.faults.silence(device_id)
        return f"{device_id} silent"

    def _restore(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, set())
        self.faults.restore(device_id)
        return f"{device_id} restored"

    def _slow(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, {"delay"})
        delay = parse_duration(options["delay"])
        self.faults.slow(device_id, delay)
        return f"{device_id} answers SNMP {delay:g} s late"

    def _interface_down(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, {"ifindex"})
        self.faults.interface_down(device_id, int(options["ifindex"]))
        return f"{device_id} ifIndex {options['ifindex']} down"

    def _interface_up(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, {"ifindex"})
        self.faults.interface_up(device_id, int(options["ifindex"]))
        return f"{device_id} ifIndex {options['ifindex']} up"

    def _counter_wrap(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, {"in", "ifindex"})
        seconds = parse_duration(options["in"]) if "in" in options else 30.0
        if_index = int(options["ifindex"]) if "ifindex" in options else None
        self.faults.counter_wrap(device_id, seconds, if_index)
        return f"{device_id} 32-bit counters wrap in {seconds:g} s"

    def _degrade_optics(self, device_id: str, options: dict[str, str]) -> str:
        _only(options, {"ifindex", "rate"})
        rate = float(options.get("rate", "6"))
        self.faults.degrade_optics(device_id, int(options["ifindex"]), rate)
        return f"{device_id} ifIndex {options['ifindex']} receive level falling {rate:g} dB/h"

    # ------------------------------------------------------------------ the chargers themselves

    def _charger_fault(self, chargers: ChargePoints, charger_id: str, options: dict[str, str]) -> str:
        _only(options, {"connector", "error", "vendor"})
        connector = _connector(options, chargers.connectors(charger_id), required=True)
        assert connector is not None
        if "error" not in options:
            raise ValueError("error=CODE is required")
        error, vendor = options["error"], options.get("vendor", "")
        chargers.fault(charger_id, connector, error, vendor)
        return f"{charger_id} connector {connector} Faulted: {error}" + (f" (vendor {vendor})" if vendor else "")

    def _charger_clear(self, chargers: ChargePoints, charger_id: str, options: dict[str, str]) -> str:
        _only(options, {"connector"})
        connector = _connector(options, chargers.connectors(charger_id), required=False)
        chargers.clear(charger_id, connector)
        which = f"connector {connector}" if connector is not None else "every connector"
        return f"{charger_id} {which} Available again"

    def _charger_offline(self, chargers: ChargePoints, charger_id: str, options: dict[str, str]) -> str:
        _only(options, {"connection"})
        connection = options.get("connection", "open")
        if connection not in ("open", "closed"):
            raise ValueError(f"connection= is open or closed, not {connection!r}")
        chargers.offline(charger_id, keep_socket=connection == "open")
        cut = chargers.cut_at(charger_id)
        where = f"cut off at {cut} anyway" if cut else f"modem {chargers.specs[charger_id].device} still answers"
        return f"{charger_id} silent, its connection {connection} ({where})"

    def _charger_online(self, chargers: ChargePoints, charger_id: str, options: dict[str, str]) -> str:
        _only(options, set())
        if chargers.online(charger_id):
            return f"{charger_id} talking again"
        return f"{charger_id} will talk again once {chargers.cut_at(charger_id)} answers"

    def _charger_reboot(self, chargers: ChargePoints, charger_id: str, options: dict[str, str]) -> str:
        _only(options, set())
        if chargers.reboot(charger_id):
            return f"{charger_id} rebooting"
        return f"{charger_id} rebooting; it connects once {chargers.cut_at(charger_id)} answers"

    async def play(self, events: list[tuple[float, str]], log: Callable[[str], None] = print) -> None:
        """Carry out timed commands (seconds from now), in order."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for at, command in sorted(events, key=lambda event: event[0]):
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            log(f"scenario at {at:g} s: {self.run(command)}")


def _options(words: list[str], usage: str) -> dict[str, str]:
    options = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not key or not value:
            raise ScenarioError(f"expected key=value, got {word!r}; usage: {usage}")
        options[key] = value
    return options


def _chargers(count: int) -> str:
    return f"{count} charger{'' if count == 1 else 's'}"


def _connector(options: dict[str, str], connectors: int, required: bool) -> int | None:
    text = options.get("connector")
    if text is None:
        if required:
            raise ValueError("connector=N is required")
        return None
    if not text.isdigit() or not 1 <= int(text) <= connectors:
        have = "1" if connectors == 1 else f"1..{connectors}"
        raise ValueError(f"no connector {text!r} (it has {have})")
    return int(text)


def _only(options: dict[str, str], allowed: set[str]) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed)) or 'none'})"
        )


def load_scenario_file(path: Path) -> list[tuple[float, str]]:
    """A scenario file: one ``AT COMMAND`` per line (``30s fibre-cut dist-003``); ``#`` starts a comment.

    Errors name the file and line. Commands are checked for their name here; devices when they run.
    """
    events = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        at_text, _, command = text.partition(" ")
        try:
            at = 0.0 if at_text in ("0", "0s") else parse_duration(at_text)
        except ValueError as exc:
            raise ScenarioError(f"{path}:{number}: {exc}") from None
        name = command.split()[0] if command.split() else ""
        if name not in COMMANDS:
            raise ScenarioError(f"{path}:{number}: unknown scenario {name!r}; one of: {', '.join(COMMANDS)}")
        events.append((at, command.strip()))
    return events
