"""How simulated values move over time, and the per-device fault state that bends them.

Owns the numbers: traffic rates with a day/night shape per kind of device,
interface counters as exact integrals of those rates (so a counter is a pure
function of time: deterministic, monotonic, cheap to read at any instant, no
ticking), packets, errors, client counts per radio, channel utilisation and
optical levels. Faults (silent, slow, interface down, reboot, counter wrap,
optics degrading) live in :class:`DeviceRuntime` and are applied at the
instant they are injected, so everything a poller reads stays consistent.

The link to each device is modelled too: a one-way base latency, jitter and a
loss probability, by kind of device (fibre backbone below a millisecond,
hotspots a few milliseconds, charger modems on LTE tens of milliseconds with
about 1 % loss), plus whatever a ``degrade`` fault adds. Every ping and SNMP
exchange draws from the device's own deterministic random stream, so what one
device measures does not depend on traffic to the others.

Local time is taken as UTC+1 (CET) without daylight saving: good enough for a
day/night curve.
"""

from __future__ import annotations

import math
import random
import socket
from dataclasses import dataclass

from simulators.city import (
    KIND_CHARGER_MODEM,
    KIND_CORE,
    KIND_DISTRIBUTION,
    KIND_HOTSPOT,
    KIND_SCHOOL_AP,
    City,
    DeviceSpec,
    InterfaceSpec,
    SensorSpec,
)
from stadtnetz.clock import Clock

DAY = 86_400.0
OMEGA = 2 * math.pi / DAY
LOCAL_OFFSET = 3_600.0  # CET
MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
NO_LIGHT_DBM = -40.0

# Hour of the daily peak per kind of device (public WLAN peaks in the evening, schools mid-morning).
PEAK_HOUR = {KIND_CORE: 20.5, KIND_DISTRIBUTION: 20.0, KIND_SCHOOL_AP: 10.5, KIND_CHARGER_MODEM: 17.5}
DEFAULT_PEAK_HOUR = 19.0


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """The link to a kind of device: one-way latency range (s), jitter (s, std dev of one way), loss per exchange."""

    latency_min: float
    latency_max: float
    jitter: float
    loss: float


LINK_PROFILES = {
    KIND_CORE: LinkProfile(0.00010, 0.00030, 0.00002, 0.0),  # own fibre ring
    KIND_DISTRIBUTION: LinkProfile(0.00020, 0.00060, 0.00005, 0.0),
    KIND_HOTSPOT: LinkProfile(0.0010, 0.0040, 0.0005, 0.0),  # copper/fibre access, a few ms
    KIND_SCHOOL_AP: LinkProfile(0.0008, 0.0030, 0.0004, 0.0),
    KIND_CHARGER_MODEM: LinkProfile(0.015, 0.035, 0.006, 0.01),  # LTE: tens of ms, ~1 % loss
}
_LINK_SALT = 0x6C696E6B  # "link": the link stream is independent of the values' random stream
_GOLDEN = 0x9E3779B97F4A7C15
_TWO_PI = 2.0 * math.pi
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class RateCurve:
    """A rate in units per second: ``peak * shape(t)``, with 0.02 <= shape <= 1.

    shape(t) = 0.5 + 0.38 cos(w(t - p1)) + 0.07 cos(2w(t - p2)) + 0.03 cos(w3 (t - p3)), where
    w is one day and w3 a few minutes (short-term wobble), so its integral has a closed form.
    """

    peak: float
    phase1: float
    phase2: float
    omega3: float
    phase3: float

    @classmethod
    def make(cls, peak: float, peak_hour: float, rng: random.Random) -> RateCurve:
        hour = peak_hour + rng.uniform(-1.0, 1.0)
        return cls(
            peak=peak,
            phase1=hour * 3600.0 - LOCAL_OFFSET,
            phase2=hour * 3600.0 - LOCAL_OFFSET + rng.uniform(-3600, 3600),
            omega3=2 * math.pi / rng.uniform(420.0, 1500.0),
            phase3=rng.uniform(0, DAY),
        )

    def shape(self, t: float) -> float:
        return (
            0.5
            + 0.38 * math.cos(OMEGA * (t - self.phase1))
            + 0.07 * math.cos(2 * OMEGA * (t - self.phase2))
            + 0.03 * math.cos(self.omega3 * (t - self.phase3))
        )

    def rate(self, t: float) -> float:
        return self.peak * self.shape(t)

    def integral(self, t0: float, t: float) -> float:
        """Units accumulated from ``t0`` to ``t``."""
        if self.peak == 0.0:
            return 0.0

        def antiderivative(x: float) -> float:
            return (
                0.38 / OMEGA * math.sin(OMEGA * (x - self.phase1))
                + 0.07 / (2 * OMEGA) * math.sin(2 * OMEGA * (x - self.phase2))
                + 0.03 / self.omega3 * math.sin(self.omega3 * (x - self.phase3))
            )

        return self.peak * (0.5 * (t - t0) + antiderivative(t) - antiderivative(t0))


class InterfaceRuntime:
    """Counters and status of one simulated interface."""

    __slots__ = (
        "base_in", "base_out", "cached", "cached_at", "curve_in", "curve_out", "discard_ratio", "down_since",
        "error_ratio", "forced_down", "last_change", "last_in", "last_out", "octets_per_packet", "paused_in",
        "paused_out", "spec",
    )

    def __init__(self, spec: InterfaceSpec, kind: str, rng: random.Random, epoch: float, age: float) -> None:
        self.spec = spec
        peak_hour = PEAK_HOUR.get(kind, DEFAULT_PEAK_HOUR)
        self.curve_in = RateCurve.make(spec.peak_in_bps / 8.0, peak_hour, rng)
        self.curve_out = RateCurve.make(spec.peak_out_bps / 8.0, peak_hour, rng)
        # A device that has been running for `age` seconds has accumulated traffic already.
        self.base_in = int(spec.peak_in_bps / 8.0 * 0.5 * age * rng.uniform(0.8, 1.2))
        self.base_out = int(spec.peak_out_bps / 8.0 * 0.5 * age * rng.uniform(0.8, 1.2))
        self.paused_in = 0
        self.paused_out = 0
        self.last_in = 0
        self.last_out = 0
        self.octets_per_packet = rng.uniform(550.0, 950.0)
        self.error_ratio = 10 ** rng.uniform(-8, -5)
        self.discard_ratio = 10 ** rng.uniform(-7, -4)
        self.forced_down = False
        self.down_since: float | None = None if spec.admin_up else epoch
        self.last_change = epoch - rng.uniform(0, age)
        self.cached_at = math.nan
        self.cached = (0, 0)

    @property
    def oper_up(self) -> bool:
        return self.down_since is None

    def octets(self, epoch: float, now: float) -> tuple[int, int]:
        """(in, out) octet counters at ``now`` as 64-bit values; never decreasing."""
        if now == self.cached_at:  # one poll reads many columns of an interface at the same instant
            return self.cached
        until = self.down_since if self.down_since is not None else now
        # max(0, ...): between a reboot's start and the end of its downtime nothing counts yet
        octets_in = max(0, self.base_in + int(self.curve_in.integral(epoch, until)) - self.paused_in) & MASK64
        octets_out = max(0, self.base_out + int(self.curve_out.integral(epoch, until)) - self.paused_out) & MASK64
        # Float rounding of the integral must never make a counter step back.
        if octets_in < self.last_in and self.last_in - octets_in < 1 << 20:
            octets_in = self.last_in
        if octets_out < self.last_out and self.last_out - octets_out < 1 << 20:
            octets_out = self.last_out
        self.last_in, self.last_out = octets_in, octets_out
        self.cached_at = now
        self.cached = (octets_in, octets_out)
        return self.cached

    def rates(self, now: float) -> tuple[float, float]:
        """Current (in, out) rates in bytes per second."""
        if self.down_since is not None:
            return 0.0, 0.0
        return self.curve_in.rate(now), self.curve_out.rate(now)

    def set_down(self, epoch: float, now: float) -> None:
        self.cached_at = math.nan
        if self.down_since is None:
            self.octets(epoch, now)
            self.down_since = now
            self.last_change = now

    def set_up(self, epoch: float, now: float) -> None:
        self.cached_at = math.nan
        if self.down_since is not None and self.spec.admin_up:
            start = self.down_since
            self.paused_in += int(self.curve_in.integral(epoch, now)) - int(self.curve_in.integral(epoch, start))
            self.paused_out += int(self.curve_out.integral(epoch, now)) - int(self.curve_out.integral(epoch, start))
            self.down_since = None
            self.last_change = now

    def reset_counters(self, epoch: float, now: float) -> None:
        """What a reboot does: every counter starts again at zero."""
        self.cached_at = math.nan

        until = self.down_since if self.down_since is not None else now
        self.base_in = self.base_out = 0
        self.paused_in = int(self.curve_in.integral(epoch, until))
        self.paused_out = int(self.curve_out.integral(epoch, until))
        self.last_in = self.last_out = 0
        self.last_change = now


@dataclass(slots=True)
class OpticsDegradation:
    since: float
    db_per_hour: float


class DeviceRuntime:
    """One simulated device at run time: its spec, its interfaces' counters and its faults."""

    __slots__ = (
        "boot_time", "boots", "degradations", "delay", "epoch", "extra_loss", "extra_rtt", "interfaces", "jitter",
        "latency", "link_state", "loss", "radio_curves", "rng_seed", "silent_until", "spec", "wobble",
    )

    def __init__(self, spec: DeviceSpec, epoch: float, link_profile: bool = False) -> None:
        rng = random.Random(spec.seed)
        self.spec = spec
        self.epoch = epoch
        age = rng.uniform(3 * DAY, 300 * DAY)
        self.boot_time = epoch - age
        self.boots = 1  # SNMPv3 snmpEngineBoots: one more at every reboot
        self.interfaces = [InterfaceRuntime(i, spec.kind, rng, epoch, age) for i in spec.interfaces]
        peak_hour = PEAK_HOUR.get(spec.kind, DEFAULT_PEAK_HOUR)
        self.radio_curves = [RateCurve.make(float(r.max_clients), peak_hour, rng) for r in spec.radios]
        self.wobble = rng.uniform(0, 2 * math.pi)
        self.rng_seed = spec.seed
        self.silent_until = 0.0  # silent while now < silent_until (math.inf: until restored)
        self.delay = 0.0
        self.degradations: dict[int, OpticsDegradation] = {}  # if_index -> degradation of its rx level
        # The link: base one-way latency and jitter (seconds), loss per exchange; zero unless link_profile.
        self.latency = self.jitter = self.loss = 0.0
        if link_profile:
            self.latency, self.jitter, self.loss = default_link(spec)
        self.extra_rtt = 0.0  # added round-trip time (degrade fault)
        self.extra_loss = 0.0  # added loss probability (degrade fault)
        self.link_state = (spec.seed ^ _LINK_SALT) & MASK64  # splitmix64 state of this device's link stream

    # ---------------------------------------------------------------- values

    def silent(self, now: float) -> bool:
        return now < self.silent_until

    def uptime_ticks(self, now: float) -> int:
        return int((now - self.boot_time) * 100) & MASK32

    def ticks_at(self, moment: float) -> int:
        """A past moment as sysUpTime ticks (0 if it was before the last boot)."""
        return max(0, int((moment - self.boot_time) * 100)) & MASK32

    def clients(self, radio_position: int, now: float) -> int:
        curve = self.radio_curves[radio_position]
        minute = int(now // 60)
        jitter = random.Random(self.rng_seed ^ minute ^ (radio_position << 40)).uniform(0.85, 1.15)
        if not self.interfaces[0].oper_up:
            return 0  # uplink down: clients drop off
        return round(curve.rate(now) * jitter)

    def channel_utilisation(self, radio_position: int, now: float) -> int:
        curve = self.radio_curves[radio_position]
        load = self.clients(radio_position, now) / max(1.0, curve.peak)
        return min(97, round(4 + 55 * load + 3 * math.sin(now / 97.0 + self.wobble)))

    def optical_dbm(self, sensor: SensorSpec, now: float) -> float:
        level = sensor.nominal_dbm + 0.04 * math.sin(now / 53.0 + self.wobble + sensor.entity_index)
        degradation = self.degradations.get(sensor.if_index)
        if degradation is not None and sensor.direction == "rx":
            level -= degradation.db_per_hour * max(0.0, now - degradation.since) / 3600.0
        return max(NO_LIGHT_DBM, level)

    # ---------------------------------------------------------------- link

    def _uniform(self) -> float:
        """The next number in [0, 1) of this device's own stream (splitmix64)."""
        state = (self.link_state + _GOLDEN) & MASK64
        self.link_state = state
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return ((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0)

    def link_delay(self) -> float | None:
        """Round-trip time the link adds to one exchange (request and answer), or None if it is lost.

        Each direction takes the base latency plus Gaussian jitter; the sum of the two
        is drawn at once (a Gaussian with sqrt(2) times the jitter), never below zero,
        plus a degrade fault's added round trip. Loss applies once per exchange: base
        loss and a degrade fault's loss are independent, ``1 - (1 - loss)(1 - extra_loss)``.
        A device without link profile or fault answers at once and draws nothing.
        """
        if self.loss or self.extra_loss:
            survive = (1.0 - self.loss) * (1.0 - self.extra_loss)
            if self._uniform() >= survive:
                return None
        if not self.jitter:
            return 2.0 * self.latency + self.extra_rtt
        gauss = math.sqrt(-2.0 * math.log(1.0 - self._uniform())) * math.cos(_TWO_PI * self._uniform())
        return max(0.0, 2.0 * self.latency + _SQRT2 * self.jitter * gauss) + self.extra_rtt

    # ---------------------------------------------------------------- faults

    def reboot(self, now: float, downtime: float = 0.0) -> None:
        self.boot_time = now + downtime
        self.boots += 1
        self.silent_until = max(self.silent_until, now + downtime)
        for interface in self.interfaces:
            interface.reset_counters(self.epoch, now + downtime)
            if interface.forced_down:
                interface.forced_down = False
                interface.set_up(self.epoch, now + downtime)

    def interface(self, if_index: int) -> InterfaceRuntime:
        for interface in self.interfaces:
            if interface.spec.index == if_index:
                return interface
        raise KeyError(f"{self.spec.id} has no interface with ifIndex {if_index}")


def default_link(spec: DeviceSpec) -> tuple[float, float, float]:
    """(one-way latency, jitter, loss) of the device's link by kind; the same seed gives the same values."""
    profile = LINK_PROFILES.get(spec.kind, LINK_PROFILES[KIND_HOTSPOT])
    rng = random.Random(spec.seed ^ _LINK_SALT)
    return rng.uniform(profile.latency_min, profile.latency_max), profile.jitter, profile.loss


class CityRuntime:
    """Every simulated device at run time, found by id or by the address it answers on.

    ``link_profiles``: give every device the latency, jitter and loss of its kind
    (:data:`LINK_PROFILES`), as the network-namespace simulation does; without it
    links are ideal until a ``degrade`` fault says otherwise.
    """

    def __init__(self, city: City, clock: Clock, link_profiles: bool = False) -> None:
        self.city = city
        self.clock = clock
        self.epoch = clock.time()
        self.link_profiles = link_profiles
        self.devices: dict[str, DeviceRuntime] = {
            d.id: DeviceRuntime(d, self.epoch, link_profiles) for d in city.devices
        }
        self.by_address: dict[bytes, DeviceRuntime] = {
            socket.inet_aton(rt.spec.address): rt for rt in self.devices.values()
        }

    def device(self, device_id: str) -> DeviceRuntime:
        try:
            return self.devices[device_id]
        except KeyError:
            raise KeyError(f"no simulated device {device_id!r}") from None
