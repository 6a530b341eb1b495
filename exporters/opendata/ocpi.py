"""The chargers as OCPI 2.2.1 Locations: what roaming platforms and charging apps read.

Owns the Location, EVSE and Connector objects (OCPI 2.2.1, module Locations, Sender interface), the response
envelope and the OCPP 1.6 status mapping. One Location per published charger (``id`` its charger id); one EVSE per
OCPP connector, as the OCA's application note for OCPP 1.x asks (``uid`` ``<charger>-<n>``, ``evse_id`` the eMI3 id
``DE*SWM*ECP007*1``), each with the one Connector it is. Coordinates are strings with 6 decimals (OCPI's
``-?[0-9]{1,2}\\.[0-9]{5,7}``), timestamps UTC with a Z.

The status of an EVSE (OCPI defines no OCPP mapping; this one):

=====================================================  ==============
OCPP 1.6 (its connector's, or connector 0's for all)   OCPI EVSE
=====================================================  ==============
Available                                              AVAILABLE
Preparing, Charging, SuspendedEV, SuspendedEVSE,       CHARGING
Finishing
Reserved                                               RESERVED
Unavailable                                            INOPERATIVE
Faulted                                                OUTOFORDER
charger offline or unreachable, nothing reported       UNKNOWN
=====================================================  ==============

Connector 0 (the charger as a whole) fans out: while it is Faulted or Unavailable every EVSE of the charger says so,
whatever its own connector reported.
"""

from __future__ import annotations

import re
from typing import Any

from exporters.opendata.snapshot import ChargerView, ConnectorView, Snapshot, latest, utc
from stadtnetz.model import COUNTRY_ALPHA3

VERSION = "2.2.1"
SUCCESS = 1000  # OCPI status codes
INVALID_PARAMETERS = 2001
UNKNOWN_LOCATION = 2003

OCPP_TO_OCPI = {
    "Available": "AVAILABLE",
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}
WHOLE_CHARGER = {"Unavailable": "INOPERATIVE", "Faulted": "OUTOFORDER"}  # connector 0's that hold for every EVSE


def evse_status(view: ChargerView, connector: ConnectorView) -> str:
    """The OCPI status of the EVSE that is ``connector`` (see the module docstring)."""
    if not view.online:
        return "UNKNOWN"
    if view.whole in WHOLE_CHARGER:
        return WHOLE_CHARGER[view.whole]
    return OCPP_TO_OCPI.get(connector.ocpp_status, "UNKNOWN")


def evse_uid(view: ChargerView, connector: ConnectorView) -> str:
    return f"{view.charger.id}-{connector.number}"


def evse_id(snapshot: Snapshot, view: ChargerView, connector: ConnectorView) -> str:
    """The eMI3 EVSE id: country*operator*E<charger id, letters and digits>*<connector>, e.g. DE*SWM*ECP007*1."""
    operator = snapshot.opendata.operator
    assert operator is not None  # a published charger has one (the configuration checks)
    plain = re.sub(r"[^A-Za-z0-9]", "", view.charger.id).upper()
    return f"{operator.country_code}*{operator.party_id}*E{plain}*{connector.number}"


def coordinate(value: float) -> str:
    return f"{value:.6f}"


def _ocpi_time(value: str) -> str:
    return "23:59" if value == "24:00" else value


def opening_times(view: ChargerView) -> dict[str, Any]:
    hours = view.charger.opening_hours
    if hours.always:
        return {"twentyfourseven": True}
    return {
        "twentyfourseven": False,
        "regular_hours": [
            {"weekday": day + 1, "period_begin": begin, "period_end": _ocpi_time(end)}
            for day, begin, end in sorted(hours.periods)
        ],
    }


def connector_object(snapshot: Snapshot, connector: ConnectorView) -> dict[str, Any]:
    info = connector.info
    found: dict[str, Any] = {
        "id": str(connector.number),
        "standard": info.standard,
        "format": info.format,
        "power_type": info.power_type,
        "max_voltage": info.max_voltage,
        "max_amperage": info.max_amperage,
    }
    if info.max_electric_power is not None:
        found["max_electric_power"] = info.max_electric_power
    found["last_updated"] = utc(snapshot.static_since)
    return found


def evse_object(snapshot: Snapshot, view: ChargerView, connector: ConnectorView) -> dict[str, Any]:
    return {
        "uid": evse_uid(view, connector),
        "evse_id": evse_id(snapshot, view, connector),
        "status": evse_status(view, connector),
        "connectors": [connector_object(snapshot, connector)],
        "physical_reference": str(connector.number),
        "last_updated": utc(latest(snapshot.static_since, connector.updated)),
    }


def location(snapshot: Snapshot, view: ChargerView) -> dict[str, Any]:
    """One published charger as an OCPI Location."""
    operator = snapshot.opendata.operator
    charger = view.charger
    assert operator is not None and charger.lat is not None and charger.lon is not None
    evses = [evse_object(snapshot, view, connector) for connector in view.connectors if connector.info.complete]
    found: dict[str, Any] = {
        "country_code": operator.country_code,
        "party_id": operator.party_id,
        "id": charger.id,
        "publish": True,
        "name": charger.name or charger.id,
        "address": " ".join(part for part in (charger.street, charger.house_number) if part),
        "city": charger.city,
        "postal_code": charger.postcode,
        "country": COUNTRY_ALPHA3[operator.country_code],
        "coordinates": {"latitude": coordinate(charger.lat), "longitude": coordinate(charger.lon)},
        "evses": evses,
        "operator": {"name": operator.name[:100], **({"website": operator.website} if operator.website else {})},
        "time_zone": snapshot.opendata.time_zone,
        "opening_times": opening_times(view),
        "last_updated": utc(
            latest(snapshot.static_since, *(connector.updated for connector in view.connectors))
        ),
    }
    return found


def locations(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [location(snapshot, view) for view in snapshot.chargers]


def envelope(data: Any, now: float, status_code: int = SUCCESS, message: str = "Success") -> dict[str, Any]:
    """OCPI's response format around ``data``."""
    found: dict[str, Any] = {"data": data, "status_code": status_code, "status_message": message}
    if data is None:
        del found["data"]  # an error carries no data field
    found["timestamp"] = utc(now)
    return found
