"""The chargers as DATEX II AFIR publications in the JSON of the Mobilithek's profile (AFIR-DATEX-II-Recharging-Profil
01-00-00): what EU AFIR (Regulation 2023/1804, Art. 20) asks operators of public chargers to publish.

Owns the two publications and the status mapping:

* **static** (``aegiEnergyInfrastructureTablePublication``, in a ``payload``): one table (the operator's), one site
  and one station per published charger (its name, address, NUTS region, coordinates, opening hours, operator and
  helpdesk), one refill point per OCPP connector (``aegiElectricChargingPoint``: its EVSE id, AC or DC, voltage,
  power) with the one connector it is (type, socket or cable, power).
* **status** (``aegiEnergyInfrastructureStatusPublication``, in a ``messageContainer`` with its exchange
  information, a snapshot pull): each refill point's status, referring to the static objects by id and version.

Ids (``idG``) are UUIDs derived from the operator id and the charger id, stable across restarts; an object's
``versionG`` is a hash of its static data, so it changes exactly when they do. Prices (AFIR's ad-hoc price) are not
in the configuration and not published.

The status of a refill point:

=====================================================  ==============
OCPP 1.6 (its connector's, or connector 0's for all)   DATEX II
=====================================================  ==============
Available                                              available
Charging                                               charging
Preparing, SuspendedEV, SuspendedEVSE, Finishing       occupied
Reserved                                               reserved
Unavailable                                            unavailable
Faulted                                                faulted
charger offline or unreachable, nothing reported       unknown
=====================================================  ==============
"""

from __future__ import annotations

import json
import uuid
import zlib
from typing import Any

from exporters.opendata.ocpi import evse_id
from exporters.opendata.snapshot import ChargerView, ConnectorView, Snapshot, latest, local, offset

PROFILE = {"modelBaseVersionG": "3", "profileNameG": "AFIR Energy Infrastructure", "profileVersionG": "01-00-00"}
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:stadtnetz:opendata:datex2")

OCPP_TO_DATEX = {
    "Available": "available",
    "Charging": "charging",
    "Preparing": "occupied",
    "SuspendedEV": "occupied",
    "SuspendedEVSE": "occupied",
    "Finishing": "occupied",
    "Reserved": "reserved",
    "Unavailable": "unavailable",
    "Faulted": "faulted",
}
WHOLE_CHARGER = {"Unavailable": "unavailable", "Faulted": "faulted"}

# OCPI ConnectorType -> DATEX II ConnectorTypeEnum; those without one are "other" with their OCPI name
CONNECTOR_TYPES = {
    "CHADEMO": "chademo",
    **{f"DOMESTIC_{letter}": f"domestic{letter}" for letter in "ABCDEFGHIJKLMNO"},
    "IEC_60309_2_single_16": "iec60309x2single16",
    "IEC_60309_2_three_16": "iec60309x2three16",
    "IEC_60309_2_three_32": "iec60309x2three32",
    "IEC_60309_2_three_64": "iec60309x2three64",
    "IEC_62196_T1": "iec62196T1",
    "IEC_62196_T1_COMBO": "iec62196T1COMBO",
    "IEC_62196_T2": "iec62196T2",
    "IEC_62196_T2_COMBO": "iec62196T2COMBO",
    "IEC_62196_T3A": "iec62196T3A",
    "IEC_62196_T3C": "iec62196T3C",
    "PANTOGRAPH_BOTTOM_UP": "pantographBottomUp",
    "PANTOGRAPH_TOP_DOWN": "pantographTopDown",
    "TESLA_R": "teslaR",
    "TESLA_S": "teslaS",
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def refill_point_status(view: ChargerView, connector: ConnectorView) -> str:
    """The DATEX II status of the refill point that is ``connector`` (see the module docstring)."""
    if not view.online:
        return "unknown"
    if view.whole in WHOLE_CHARGER:
        return WHOLE_CHARGER[view.whole]
    return OCPP_TO_DATEX.get(connector.ocpp_status, "unknown")


# --- ids and versions -----------------------------------------------------------------------------------------------


def _operator_id(snapshot: Snapshot) -> str:
    operator = snapshot.opendata.operator
    assert operator is not None  # a published charger has one (the configuration checks)
    return operator.operator_id


def object_id(snapshot: Snapshot, *parts: object) -> str:
    """A stable UUID for an object of the publications: from the operator id and the object's path."""
    return str(uuid.uuid5(NAMESPACE, "/".join([_operator_id(snapshot), *map(str, parts)]))).upper()


def _version(data: Any) -> str:
    return str(zlib.crc32(json.dumps(data, sort_keys=True, default=repr).encode()))


def charger_version(snapshot: Snapshot, view: ChargerView) -> str:
    """The version of a charger's static objects: changes when its static data (or the operator's) do."""
    return _version([view.charger.id, _static_fields(view), snapshot.opendata])


def _static_fields(view: ChargerView) -> list[Any]:
    charger = view.charger
    return [
        charger.name, charger.street, charger.house_number, charger.postcode, charger.city, charger.lat,
        charger.lon, charger.opening_hours, [c.info for c in view.connectors],
    ]


def table_version(snapshot: Snapshot) -> str:
    return _version([charger_version(snapshot, view) for view in snapshot.chargers])


def _reference(snapshot: Snapshot, view: ChargerView, *parts: object) -> dict[str, str]:
    return {
        "targetClass": "FacilityObject",
        "idG": object_id(snapshot, view.charger.id, *parts),
        "versionG": charger_version(snapshot, view),
    }


# --- the static publication -----------------------------------------------------------------------------------------


def _text(snapshot: Snapshot, value: str) -> dict[str, Any]:
    return {"values": [{"lang": snapshot.opendata.language, "value": value}]}


def _header(snapshot: Snapshot) -> dict[str, Any]:
    status = "test" if snapshot.opendata.test else "real"
    return {"confidentiality": {"value": "noRestriction"}, "informationStatus": {"value": status}}


def _creator(snapshot: Snapshot) -> dict[str, str]:
    operator = snapshot.opendata.operator
    assert operator is not None
    return {"country": operator.country_code, "nationalIdentifier": operator.operator_id}


def _time_of_day(value: str) -> str:
    # the profile writes times of day with a trailing Z, "for technical reasons, not UTC" (local time)
    return "23:59:59Z" if value == "24:00" else f"{value}:00Z"


def operating_hours(snapshot: Snapshot, view: ChargerView) -> dict[str, Any]:
    hours = view.charger.opening_hours
    if hours.always:
        return {"afacOpenAllHours": {}}
    periods = [
        {
            "recurringTimePeriodOfDay": [
                {"startTimeOfPeriod": _time_of_day(begin), "endTimeOfPeriod": _time_of_day(end)}
            ],
            "recurringDayWeekMonthPeriod": [{"comDayWeekMonth": {"applicableDay": [{"value": WEEKDAYS[day]}]}}],
        }
        for day, begin, end in sorted(hours.periods)
    ]
    return {
        "afacOperatingHoursSpecification": {
            "idG": object_id(snapshot, view.charger.id, "hours"),
            "versionG": charger_version(snapshot, view),
            "operatingAllYear": True,
            "overallPeriod": {
                "overallStartTime": local(snapshot.static_since, snapshot.opendata.time_zone),
                "validPeriod": periods,
            },
        }
    }


def _operator(snapshot: Snapshot) -> dict[str, Any]:
    operator = snapshot.opendata.operator
    assert operator is not None
    found: dict[str, Any] = {
        "name": _text(snapshot, operator.name),
        "legalName": _text(snapshot, operator.legal_name or operator.name),
    }
    if operator.website:
        found["linkToGeneralInformation"] = operator.website
    found["externalIdentifier"] = [
        {"identifier": operator.operator_id, "typeOfIdentifier": {"value": "extendedG", "extendedValueG": "operatorId"}}
    ]
    return {"afacAnOrganisation": found}


def _helpdesk(snapshot: Snapshot) -> dict[str, Any] | None:
    operator = snapshot.opendata.operator
    assert operator is not None
    contact = {key: value for key, value in (("telephoneNumber", operator.phone), ("eMail", operator.email)) if value}
    if not contact:
        return None
    return {
        "afacAnOrganisation": {
            "name": _text(snapshot, operator.name),
            "organisationUnit": [{"contactInformation": [{"afacContactInformation": contact}]}],
        }
    }


def _location(snapshot: Snapshot, view: ChargerView, with_address: bool) -> dict[str, Any]:
    charger = view.charger
    assert charger.lat is not None and charger.lon is not None
    point = {"latitude": round(charger.lat, 6), "longitude": round(charger.lon, 6)}
    found: dict[str, Any] = {"coordinatesForDisplay": point}
    if with_address:
        operator = snapshot.opendata.operator
        assert operator is not None
        lines = [("street", charger.street), ("houseNumber", charger.house_number)]
        address = {
            "postcode": charger.postcode,
            "city": _text(snapshot, charger.city),
            "countryCode": operator.country_code,
            "addressLine": [
                {"order": order, "type": {"value": kind}, "text": _text(snapshot, text)}
                for order, (kind, text) in enumerate((kind, text) for kind, text in lines if text)
            ],
        }
        facility: dict[str, Any] = {
            "timeZone": offset(snapshot.now, snapshot.opendata.time_zone),
            "address": address,
        }
        if snapshot.opendata.nuts:
            facility["nutsArea"] = [{"nutsCodeType": {"value": "nuts1Code"}, "nutsCode": snapshot.opendata.nuts[:3]}]
        found["locLocationExtensionG"] = {"FacilityLocation": facility}
        found["pointByCoordinates"] = {"pointCoordinates": point}
    return {"locPointLocation": found}


def _refill_point(snapshot: Snapshot, view: ChargerView, connector: ConnectorView) -> dict[str, Any]:
    info = connector.info
    power = info.power or 0
    dc = info.power_type == "DC"
    connector_format = "socket" if info.format == "SOCKET" else ("otherCable" if dc else "cableMode3")
    plug: dict[str, Any] = {"connectorType": {"value": CONNECTOR_TYPES.get(info.standard, "other")}}
    if info.standard not in CONNECTOR_TYPES:
        plug["otherConnector"] = info.standard
    plug.update(
        {
            "connectorFormat": {"value": connector_format},
            "maxPowerAtSocket": power,
            "voltage": info.max_voltage,
            "maximumCurrent": info.max_amperage,
        }
    )
    return {
        "aegiElectricChargingPoint": {
            "idG": object_id(snapshot, view.charger.id, "point", connector.number),
            "versionG": charger_version(snapshot, view),
            "lastUpdated": local(snapshot.static_since, snapshot.opendata.time_zone),
            "externalIdentifier": [
                {
                    "identifier": evse_id(snapshot, view, connector),
                    "typeOfIdentifier": {"value": "extendedG", "extendedValueG": "evseId"},
                }
            ],
            "deliveryUnit": {"value": "kWh"},
            "currentType": {"value": "dc" if dc else "ac"},
            "numberOfConnectors": 1,
            "availableVoltage": [info.max_voltage],
            "availableChargingPower": [power],
            "connector": [plug],
        }
    }


def _site(snapshot: Snapshot, view: ChargerView) -> dict[str, Any]:
    charger = view.charger
    when = local(snapshot.static_since, snapshot.opendata.time_zone)
    version = charger_version(snapshot, view)
    points = [c for c in view.connectors if c.info.complete]
    station: dict[str, Any] = {
        "idG": object_id(snapshot, charger.id, "station"),
        "versionG": version,
        "lastUpdated": when,
        "name": _text(snapshot, charger.name or charger.id),
        "totalMaximumPower": sum(c.info.power or 0 for c in points),
        "numberOfRefillPoints": len(points),
        "operatingHours": operating_hours(snapshot, view),
        "locationReference": _location(snapshot, view, with_address=True),
        "operator": _operator(snapshot),
    }
    helpdesk = _helpdesk(snapshot)
    if helpdesk is not None:
        station["helpdesk"] = helpdesk
    station["serviceType"] = [{"serviceType": {"value": "unattended"}}]
    station["refillPoint"] = [_refill_point(snapshot, view, c) for c in points]
    return {
        "idG": object_id(snapshot, charger.id, "site"),
        "versionG": version,
        "name": _text(snapshot, charger.name or charger.id),
        "lastUpdated": when,
        "operatingHours": operating_hours(snapshot, view),
        "locationReference": _location(snapshot, view, with_address=False),
        "operator": _operator(snapshot),
        "energyInfrastructureStation": [station],
    }


def table_publication(snapshot: Snapshot) -> dict[str, Any]:
    """The static publication: every published charger's site, station and refill points."""
    if not snapshot.chargers:
        return {"payload": dict(PROFILE)}  # nothing published: the profile's payload without a publication
    operator = snapshot.opendata.operator
    assert operator is not None
    publication = {
        "lang": snapshot.opendata.language,
        "publicationTime": local(snapshot.now, snapshot.opendata.time_zone),
        "publicationCreator": _creator(snapshot),
        "headerInformation": _header(snapshot),
        "energyInfrastructureTable": [
            {
                "idG": object_id(snapshot, "table"),
                "versionG": table_version(snapshot),
                "tableName": operator.name,
                "energyInfrastructureSite": [_site(snapshot, view) for view in snapshot.chargers],
            }
        ],
    }
    return {"payload": {**PROFILE, "aegiEnergyInfrastructureTablePublication": publication}}


# --- the status publication -----------------------------------------------------------------------------------------


def _site_status(snapshot: Snapshot, view: ChargerView) -> dict[str, Any]:
    tz = snapshot.opendata.time_zone
    points = [c for c in view.connectors if c.info.complete]
    updated = latest(snapshot.static_since, *(c.updated for c in points))
    return {
        "reference": _reference(snapshot, view, "site"),
        "lastUpdated": local(updated, tz),
        "energyInfrastructureStationStatus": [
            {
                "reference": _reference(snapshot, view, "station"),
                "lastUpdated": local(updated, tz),
                "refillPointStatus": [
                    {
                        "aegiElectricChargingPointStatus": {
                            "reference": _reference(snapshot, view, "point", c.number),
                            "lastUpdated": local(latest(snapshot.static_since, c.updated), tz),
                            "status": {"value": refill_point_status(view, c)},
                        }
                    }
                    for c in points
                ],
            }
        ],
    }


def status_publication(snapshot: Snapshot) -> dict[str, Any]:
    """The dynamic publication: each refill point's status now, as a complete snapshot."""
    tz = snapshot.opendata.time_zone
    now = local(snapshot.now, tz)
    payload: list[dict[str, Any]] = []
    if snapshot.chargers:
        publication = {
            "lang": snapshot.opendata.language,
            "publicationTime": now,
            "publicationCreator": _creator(snapshot),
            "headerInformation": _header(snapshot),
            "tableReference": [
                {
                    "targetClass": "EnergyInfrastructureTable",
                    "idG": object_id(snapshot, "table"),
                    "versionG": table_version(snapshot),
                }
            ],
            "energyInfrastructureSiteStatus": [_site_status(snapshot, view) for view in snapshot.chargers],
        }
        payload.append({**PROFILE, "aegiEnergyInfrastructureStatusPublication": publication})
    return {
        "messageContainer": {
            "payload": payload,
            "exchangeInformation": {
                "exchangeContext": {
                    "codedExchangeProtocol": {"value": "snapshotPull"},
                    "exchangeSpecificationVersion": "3.0",
                    "supplierOrCisRequester": {},
                },
                "dynamicInformation": {"exchangeStatus": {"value": "online"}, "messageGenerationTimestamp": now},
            },
        }
    }
