"""Flap detection: a device whose status changes too often is marked flapping, with hysteresis.

Owns the judgement "this device keeps coming and going", the way Nagios makes
it: the last 21 observations of a device's own state (ok or problem) give 20
transitions; each change counts with a weight rising linearly from 0.8 (the
oldest) to 1.2 (the newest), and their weighted share is the percent state
change. A device starts flapping when that share reaches ``high`` and stops
only when it falls below ``low``, so it does not flap in and out of flapping.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

WINDOW = 21
DEFAULT_HIGH = 0.5
DEFAULT_LOW = 0.25


def _weights(transitions: int) -> list[float]:
    if transitions <= 1:
        return [1.0] * transitions
    return [0.8 + 0.4 * i / (transitions - 1) for i in range(transitions)]


_WEIGHTS = _weights(WINDOW - 1)


def state_change(history: deque[bool]) -> float:
    """Weighted share (0..1) of the changes between consecutive states in ``history`` (oldest first)."""
    states = list(history)
    if len(states) < 2:
        return 0.0
    weights = _WEIGHTS[-(len(states) - 1) :]
    changes = sum(w for w, (a, b) in zip(weights, pairwise(states), strict=True) if a != b)
    return changes / sum(weights)


@dataclass(slots=True)
class FlapState:
    history: deque[bool] = field(default_factory=lambda: deque(maxlen=WINDOW))
    flapping: bool = False
    change: float = 0.0


class FlapDetector:
    """Per device: record its state at each observation, learn whether it is flapping."""

    def __init__(self, high: float = DEFAULT_HIGH, low: float = DEFAULT_LOW) -> None:
        if not 0 < low < high <= 1:
            raise ValueError("flap thresholds need 0 < low < high <= 1")
        self.high = high
        self.low = low
        self.devices: dict[str, FlapState] = {}

    def record(self, device_id: str, ok: bool) -> bool:
        """Add one observation (``ok``: the device itself is fine); return whether it is flapping now."""
        state = self.devices.get(device_id)
        if state is None:
            state = self.devices[device_id] = FlapState()
        state.history.append(ok)
        state.change = state_change(state.history)
        if state.flapping:
            state.flapping = state.change >= self.low
        else:
            state.flapping = state.change >= self.high
        return state.flapping
