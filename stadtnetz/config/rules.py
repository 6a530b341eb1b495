"""The rules for single values of the configuration, and the ``Annotated`` types the schema is written in.

Owns the field rules shared by the YAML schema and the CSV import (device ids, names, kinds, addresses, ports,
coordinates; the Gemeindeschlüssel, shared with the address lists), so both say the same thing about the same
mistake, and the pydantic validators of every other value: text, whole numbers, listen addresses, SNMP versions,
secret references (resolved, never echoed), password hashes, engine IDs, time zones, InfluxDB URLs, spool sizes,
the OCPP endpoint's numbers, the planning section's (CRS, costs, bandwidth thresholds, detour factor) and the open
data's (connector standards, power, the operator's ids, postcodes, opening hours).
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import urllib.parse
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, ValidationInfo

from stadtnetz.maintenance import parse_time_of_day, parse_weekdays
from stadtnetz.model import (
    BACKHAULS,
    CONNECTOR_FORMATS,
    CONNECTOR_STANDARDS,
    COUNTRY_ALPHA3,
    DEFAULT_SNMP_PORT,
    MAX_CONNECTORS,
    POWER_TYPES,
)
from stadtnetz.passwords import PasswordHashError, parse_hash
from stadtnetz.secrets import Secret, SecretError, is_reference, resolve
from stadtnetz.units import describe, parse_duration, parse_ratio, parse_size

# --- field rules shared by the YAML schema and the CSV import ---------------------------------------------------------

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit"
KIND_RULE = "a lowercase identifier (a-z, 0-9 and '_', starting with a letter), e.g. core_router"
ADDRESS_RULE = (
    "an IPv4 or IPv6 address with an optional port, e.g. 192.0.2.10, 192.0.2.10:1161, 2001:db8::1 or [2001:db8::1]:1161"
)


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


def check_backhaul(text: str) -> str | None:
    if text not in BACKHAULS:
        return f"unknown backhaul {text!r}: one of {', '.join(BACKHAULS)}"
    return None


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


# --- value rules for the schema -----------------------------------------------------------------------------------

def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected text, got {describe(value)}")
    return str(value)


def _checked(rule: Any) -> Any:
    def validate(value: Any) -> str:
        text = _text(value)
        message = rule(text)
        if message:
            raise ValueError(message)
        return text

    return validate


def _whole(minimum: int) -> Any:
    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number >= {minimum}, got {describe(value)}")
        if value < minimum:
            raise ValueError(f"must be a whole number >= {minimum}, got {value}")
        return value

    return validate


def _coordinate(what: str) -> Any:
    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, e.g. 51.84, got {describe(value)}")
        message = check_coordinate(float(value), what)
        if message:
            raise ValueError(message)
        return float(value)

    return validate


def _address(value: Any) -> tuple[str, int]:
    return parse_address(_text(value))


_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")
_LISTEN_RULE = (
    "expected host:port, e.g. 127.0.0.1:9873, 0.0.0.0:9873 or [::1]:9873 (port 1-65535, or 0 for any free port)"
)


def parse_listen(value: Any) -> tuple[str, int]:
    text = _text(value).strip()
    if text.startswith("["):
        try:
            host, port = parse_address(text) if "]:" in text else ("", 0)
        except ValueError:
            host, port = "", 0
        if not port:
            raise ValueError(f"invalid listen address {text!r}: {_LISTEN_RULE}")
        return host, port
    host, colon, port_text = text.rpartition(":")
    if not colon or not host or ":" in host or not _HOSTNAME.fullmatch(host):
        raise ValueError(f"invalid listen address {text!r}: {_LISTEN_RULE}")
    if port_text == "0":
        return host, 0  # the operating system picks a free port; the service prints which
    try:
        return host, parse_port(port_text)
    except ValueError:
        raise ValueError(f"invalid listen address {text!r}: {_LISTEN_RULE}") from None


def _snmp_version(value: Any) -> int:
    text = str(value).strip().lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text in ("1", "v1"):
        return 0
    if text in ("2c", "v2c"):
        return 1
    if text in ("3", "v3"):
        return 3
    raise ValueError(f"unsupported SNMP version {describe(value)}: use '1', '2c' or '3'")


def _list_or_none(value: Any) -> Any:
    return [] if value is None else value


def _dict_or_none(value: Any) -> Any:
    return {} if value is None else value


def _one_or_list(value: Any) -> Any:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_text)]
DeviceId = Annotated[str, BeforeValidator(_checked(check_device_id))]
Name = Annotated[str, BeforeValidator(_checked(check_name))]
Tag = Annotated[str, BeforeValidator(_checked(lambda text: check_name(text, "tag")))]
Kind = Annotated[str, BeforeValidator(_checked(check_kind))]
Backhaul = Annotated[str, BeforeValidator(_checked(check_backhaul))]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Retries = Annotated[int, BeforeValidator(_whole(0))]
Positive = Annotated[int, BeforeValidator(_whole(1))]
Ratio = Annotated[float, BeforeValidator(parse_ratio)]
Address = Annotated[tuple[str, int], BeforeValidator(_address)]
Listen = Annotated[tuple[str, int], BeforeValidator(parse_listen)]
Latitude = Annotated[float, BeforeValidator(_coordinate("lat"))]
Longitude = Annotated[float, BeforeValidator(_coordinate("lon"))]
SnmpVersion = Annotated[int, BeforeValidator(_snmp_version)]
Names = Annotated[list[Name], BeforeValidator(_list_or_none)]
Tags = Annotated[list[Tag], BeforeValidator(_list_or_none)]
Kinds = Annotated[list[Kind], BeforeValidator(_list_or_none)]


def _secret_reference(value: Any, info: ValidationInfo) -> Secret:
    """A community given as ${ENV_VAR} or file:PATH, resolved; the value itself is refused."""
    # never put ``value`` into a message: it may be the secret itself
    what = "key" if (info.field_name or "").endswith("_key") else "community"
    if info.field_name in ("token", "password"):
        what = info.field_name
    elif info.field_name == "password_hash":
        what = "password hash"
    if not isinstance(value, str) or not is_reference(value):
        raise ValueError(
            f"a literal {what} is not allowed: write a reference, ${{ENV_VAR}} or file:PATH "
            "(relative to this file), and keep the value itself out of the configuration"
        )
    context = info.context or {}
    try:
        secret = resolve(value, context.get("base_dir"), context.get("environ"))
    except SecretError as exc:
        hint = (
            "export it before starting stadtnetz, or use file:PATH"
            if value.startswith("$")
            else f"the file must be readable and hold the {what} on its first line"
        )
        raise ValueError(f"{exc}; {hint}") from None
    if not secret.reveal():
        raise ValueError(f"the {what} from {secret.source} is empty; it must hold the {what}")
    return secret


def _password_hash(value: Any, info: ValidationInfo) -> Secret:
    """A password hash by reference (${ENV_VAR} or file:PATH), checked to be one `stadtnetz web hash-password` made."""
    if isinstance(value, str) and value.strip().startswith("$scrypt$"):
        raise ValueError(
            "write the hash by reference, ${ENV_VAR} or file:PATH, not into the configuration itself"
        )
    secret = _secret_reference(value, info)
    try:
        parse_hash(secret.reveal())
    except PasswordHashError as exc:
        raise ValueError(f"{secret.source}: {exc}") from None
    return secret


def _engine_id(value: Any) -> bytes:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("write the engine ID in quotes, e.g. '0x80001f88...': unquoted, YAML reads 0x... as a number")
    text = _text(value).lower().removeprefix("0x")
    try:
        engine_id = bytes.fromhex(text)
    except ValueError:
        raise ValueError("expected the sender's snmpEngineID in hex, e.g. 0x80001f8880c71100000000000b") from None
    if not 5 <= len(engine_id) <= 32:
        raise ValueError(f"an snmpEngineID has 5 to 32 bytes, this one {len(engine_id)}")
    return engine_id


def _timezone(value: Any) -> str:
    text = _text(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}: use an IANA name like Europe/Berlin") from None
    return text


MIN_SPOOL_BYTES = 1 << 20


def _url(value: Any) -> str:
    text = _text(value).strip()
    parts = urllib.parse.urlsplit(text)
    if "@" in parts.netloc:
        # never echo ``text``: the part before the @ is a user name and perhaps a password
        raise ValueError(
            "credentials in the URL are not allowed (they would show in `stadtnetz check`, logs and errors): "
            f"write the URL without user:password@ ({parts.scheme or 'http'}://{parts.netloc.rpartition('@')[2]}) "
            "and give InfluxDB's API token as token: ${ENV_VAR} or token: file:PATH"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"expected the server's URL, e.g. http://127.0.0.1:8086 (http or https), got {text!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"invalid port in {text!r}: 1-65535") from None
    return text.rstrip("/")


def _spool_size(value: Any) -> int:
    size = parse_size(value)
    if size < MIN_SPOOL_BYTES:
        raise ValueError(f"a spool needs at least 1MiB ({MIN_SPOOL_BYTES} bytes), got {size}")
    return size


def _offline_after(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number of heartbeat intervals greater than 1, e.g. 3, got {describe(value)}")
    if not 1 < value <= 100:
        raise ValueError(f"a multiple of the heartbeat interval greater than 1 (and at most 100), got {value}")
    return float(value)


def _heartbeat(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds < 1 or seconds != round(seconds):
        raise ValueError("chargers are told whole seconds: at least 1s, e.g. 5m")
    return seconds


def _connectors(value: Any) -> int:
    number = _whole(1)(value)
    if number > MAX_CONNECTORS:
        raise ValueError(f"at most {MAX_CONNECTORS} connectors per charger (the endpoint keeps no more)")
    return number


AGS = re.compile(r"\d{8}")


def check_ags(text: str, lost_zero: str = "a leading zero lost?") -> str | None:
    """The problem with ``text`` as a Gemeindeschlüssel, or None; ``lost_zero`` is the hint for 7 digits."""
    if not AGS.fullmatch(text):
        hint = f" ({lost_zero})" if re.fullmatch(r"\d{7}", text) else ""
        return f"an Amtlicher Gemeindeschlüssel has 8 digits, e.g. 05566012, not {text!r}{hint}"
    return None


def _ags(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # never guess the digits back: 05566012 unquoted is the octal number 1502218, 5999001 lost a zero
        raise ValueError(
            "write the Gemeindeschlüssel in quotes, e.g. '05566012': unquoted, YAML reads it as a number "
            "(a leading zero is lost, and digits 0-7 after a leading zero are read as octal)"
        )
    text = _text(value)
    if message := check_ags(text):
        raise ValueError(message)
    return text


def _ags_list(value: Any) -> Any:
    """One Gemeindeschlüssel or a list of them; each item is checked on its own (:data:`AgsCode`), at its line."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


AgsCode = Annotated[str, BeforeValidator(_ags)]


PLANNING_CRS = {25832: "ETRS89 / UTM zone 32N", 25833: "ETRS89 / UTM zone 33N, east of 12° E"}


def _crs(value: Any) -> int:
    code = None
    if isinstance(value, int) and not isinstance(value, bool):
        code = value
    elif isinstance(value, str) and value.strip().upper().removeprefix("EPSG:").isdigit():
        code = int(value.strip().upper().removeprefix("EPSG:"))
    if code not in PLANNING_CRS:
        allowed = " or ".join(f"{number} ({name})" for number, name in PLANNING_CRS.items())
        degrees = "; 4326 is WGS84 in degrees, the export measures in metres" if code == 4326 else ""
        raise ValueError(f"unsupported CRS {describe(value)}: use EPSG {allowed}{degrees}")
    return code


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected {what}, got {describe(value)}")
    try:
        number = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueError(f"expected {what}, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected {what}, got {value!r}")
    return number


def _euro(value: Any) -> float:
    number = _number(value, "euro per metre, e.g. 180")
    if number < 0:
        raise ValueError(f"a cost cannot be negative, got {number:g}")
    return number


def _mbit(value: Any) -> float:
    number = _number(value, "Mbit/s, e.g. 100")
    if number <= 0:
        raise ValueError(f"a bandwidth threshold is above 0 Mbit/s, got {number:g}")
    return number


def _detour(value: Any) -> float:
    number = _number(value, "a factor, e.g. 1.3")
    if not 1 <= number <= 5:
        raise ValueError(f"a detour factor lies between 1 (straight) and 5, got {number:g}")
    return number


# --- open data: the chargers' static data and their operator (opendata:, chargers[].connectors) ----------------------

def _choice(options: tuple[str, ...], what: str, aliases: dict[str, str] | None = None) -> Any:
    """One of ``options`` (any case), else a message listing them, with the closest (or a known alias) as a hint."""

    def validate(value: Any) -> str:
        text = _text(value).strip()
        by_case = {option.upper(): option for option in options}
        if text.upper() in by_case:
            return by_case[text.upper()]
        known = (aliases or {}).get(re.sub(r"[\s_-]", "", text.upper()))
        if known is not None:
            raise ValueError(f"unknown {what} {text!r}: write {known} (the names are OCPI's)")
        close = difflib.get_close_matches(text.upper(), list(by_case), n=1, cutoff=0.5)
        hint = f"; did you mean {by_case[close[0]]!r}?" if close else ""
        raise ValueError(f"unknown {what} {text!r}: one of {', '.join(options)}{hint}")

    return validate


# what people call connectors, written without spaces, '-' and '_': OCPI's name for them
CONNECTOR_ALIASES = {
    "TYPE2": "IEC_62196_T2", "T2": "IEC_62196_T2", "MENNEKES": "IEC_62196_T2", "TYPE1": "IEC_62196_T1",
    "CCS": "IEC_62196_T2_COMBO", "CCS2": "IEC_62196_T2_COMBO", "COMBO2": "IEC_62196_T2_COMBO",
    "CCS1": "IEC_62196_T1_COMBO", "SCHUKO": "DOMESTIC_F", "CEE": "IEC_60309_2_three_32",
}


PARTY_ID = re.compile(r"[A-Z0-9]{3}")


def _party_id(value: Any) -> str:
    text = _text(value).strip().upper()
    if not PARTY_ID.fullmatch(text):
        raise ValueError(
            f"a party_id has exactly 3 letters or digits (the operator id after the country, as in DE*SWM), "
            f"not {str(value)!r} ({len(str(value))} characters)"
        )
    return text


def _country_code(value: Any) -> str:
    text = _text(value).strip().upper()
    if text not in COUNTRY_ALPHA3:
        raise ValueError(
            f"expected an ISO 3166-1 alpha-2 country code of the EU/EEA, e.g. DE, not {str(value)!r} "
            f"(known: {', '.join(sorted(COUNTRY_ALPHA3))})"
        )
    return text


def _whole_between(low: int, high: int, unit: str) -> Any:
    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number of {unit} ({low}..{high}), got {describe(value)}")
        if not low <= value <= high:
            raise ValueError(f"must lie between {low} and {high} {unit}, got {value}")
        return value

    return validate


_POWER = re.compile(r"(\d+(?:[.,]\d+)?)\s*(k?W)", re.IGNORECASE)


def _watts(value: Any) -> int:
    """Power as whole watts (22000) or with a unit: 22kW, 150 kW, 3700W."""
    if isinstance(value, int) and not isinstance(value, bool):
        watts = float(value)
    elif isinstance(value, str) and (match := _POWER.fullmatch(value.strip())):
        watts = float(match[1].replace(",", ".")) * (1000 if match[2].lower() == "kw" else 1)
    else:
        raise ValueError(f"expected power in watts (22000) or with a unit (22kW, 150 kW), got {describe(value)}")
    if not 1 <= watts <= 5_000_000 or watts != round(watts):
        raise ValueError(f"a connector's power is whole watts between 1 W and 5 MW, got {value!r}")
    return int(watts)


def _postcode(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 10000:  # 01067 unquoted: YAML reads an octal number, the leading zero is gone
            raise ValueError("write the postcode in quotes, e.g. '01067': unquoted, YAML reads it as a number")
        value = str(value)
    text = _text(value).strip()
    if not 1 <= len(text) <= 10:
        raise ValueError(f"a postcode has 1 to 10 characters, got {text!r}")
    return text


NUTS = re.compile(r"[A-Z]{2}[0-9A-Z]{1,3}")


def _nuts(value: Any) -> str:
    text = _text(value).strip().upper()
    if not NUTS.fullmatch(text):
        raise ValueError(f"expected a NUTS code such as DEA (NRW) or DE9 (Niedersachsen), got {str(value)!r}")
    return text


def _language(value: Any) -> str:
    text = _text(value).strip().lower()
    if not re.fullmatch(r"[a-z]{2}", text):
        raise ValueError(f"expected an ISO 639-1 language code such as de or en, got {str(value)!r}")
    return text


def _clock_time(value: Any) -> str:
    """A local time of day for opening hours, "07:00" (quoted); 24:00 may end a day."""
    if isinstance(value, str) and value.strip() == "24:00":
        return "24:00"
    return parse_time_of_day(value).strftime("%H:%M")


def _opening_hours(value: Any) -> Any:
    """``24/7`` (or nothing): always open; else a list of periods, each ``{days: ..., open: ..., close: ...}``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("24/7", "always")):
        return []
    if isinstance(value, str):
        raise ValueError(
            f"expected 24/7 or a list of periods like - {{days: weekdays, open: '07:00', close: '20:00'}}, "
            f"got {value!r}"
        )
    return value


ConnectorStandard = Annotated[
    str, BeforeValidator(_choice(CONNECTOR_STANDARDS, "connector standard", CONNECTOR_ALIASES))
]
ConnectorFormat = Annotated[str, BeforeValidator(_choice(CONNECTOR_FORMATS, "connector format"))]
PowerType = Annotated[str, BeforeValidator(_choice(POWER_TYPES, "power type"))]
Volts = Annotated[int, BeforeValidator(_whole_between(1, 2000, "V"))]
Amperes = Annotated[int, BeforeValidator(_whole_between(1, 1000, "A"))]
Watts = Annotated[int, BeforeValidator(_watts)]
PartyId = Annotated[str, BeforeValidator(_party_id)]
CountryCode = Annotated[str, BeforeValidator(_country_code)]
Postcode = Annotated[str, BeforeValidator(_postcode)]
Nuts = Annotated[str, BeforeValidator(_nuts)]
LanguageCode = Annotated[str, BeforeValidator(_language)]
ClockTime = Annotated[str, BeforeValidator(_clock_time)]
Weekdays = Annotated[tuple[int, ...], BeforeValidator(parse_weekdays)]
