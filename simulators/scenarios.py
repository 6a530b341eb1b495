"""Fault injection into the simulated city, at run time.

Owns what can go wrong with a simulated device and how it is switched on and
off: a device falls silent (to every protocol it speaks), answers slowly, an
interface goes down, the device reboots (sysUpTime and counters restart), its
32-bit octet counters are brought up to a wrap, or an optical receive level
starts degrading; the link to it degrades (loss, added round-trip time). Every
fault takes effect at the clock's current instant.
"""

from __future__ import annotations

import math

from simulators.behaviour import MASK32, CityRuntime, OpticsDegradation


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
