"""What an SNMP trap means for the state of a device, applied at once instead of at the next poll.

Owns the translation of a :class:`collectors.traps.TrapEvent` into changes of
the state: linkDown/linkUp set the interface's ``stadtnetz_interface_oper_status``
state (from the ifOperStatus the trap carries, else down/up), coldStart and
warmStart set ``stadtnetz_uptime_seconds`` to the uptime the trap reports.
Whether the device should be polled out of turn to confirm is returned to
the caller; the poll's answer replaces whatever the trap said. Interfaces are
found by their structured ``if_index`` label, never by matching label text.
"""

from __future__ import annotations

from stadtnetz.labels import NO_LABELS
from stadtnetz.model import TrapEvent, TrapKind
from stadtnetz.status.state import State

OPER_STATUS_METRIC = "stadtnetz_interface_oper_status"
UPTIME_METRIC = "stadtnetz_uptime_seconds"
# ifOperStatus (RFC 2863), named as the interfaces profile names them
IF_OPER_STATES = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "not_present", 7: "lower_layer_down"}
RECHECKED = frozenset({TrapKind.LINK_DOWN, TrapKind.LINK_UP, TrapKind.COLD_START, TrapKind.WARM_START})


def apply_trap(state: State, event: TrapEvent) -> bool:
    """Apply the trap to the state; True if the device should be polled now to confirm it."""
    if event.kind in (TrapKind.LINK_DOWN, TrapKind.LINK_UP) and event.if_index is not None:
        told = IF_OPER_STATES.get(event.oper_status or 0)
        status = told or ("down" if event.kind is TrapKind.LINK_DOWN else "up")
        state.set_series_label(event.device_id, OPER_STATUS_METRIC, {"if_index": str(event.if_index)}, "state", status)
    elif event.kind in (TrapKind.COLD_START, TrapKind.WARM_START):
        uptime = 0.0 if event.uptime_ticks is None else event.uptime_ticks / 100.0
        state.set_gauge(event.device_id, UPTIME_METRIC, NO_LABELS, uptime)
    return event.kind in RECHECKED
