"""OCPP 1.6J central-system endpoint: the WebSocket server EV charging points connect to.

Owns the OCPP port and what chargers tell it, nothing else. Charge points
connect to ``ws://HOST:PORT/ANY/PREFIX/<charge point id>`` with the WebSocket
subprotocol ``ocpp1.6``; the id is the last path segment. Only ids of the
inventory are accepted; others are refused in the handshake (HTTP 404), and
a charger with a password (OCPP security profile 1: HTTP Basic auth, username
= charge point id) must present it (HTTP 401 otherwise). Closed by default:
with ``auth="basic"`` every charger must have a password (the endpoint refuses
to be built otherwise); only ``auth="none"`` lets chargers without one in on
their id alone. Every refusal is
counted by reason and logged at most once per reason per minute; a password
is never logged.

Accepted messages: BootNotification (answered Accepted with the configured
heartbeat interval), Heartbeat, StatusNotification, MeterValues,
StartTransaction/StopTransaction (a transaction id and idTagInfo Accepted:
this endpoint authorises nobody, it only watches) and DataTransfer. Every
CALL is validated against the OCPP 1.6 JSON schemas (the ``ocpp`` package
does it); a bad one (not JSON, not an OCPP message, schema violation, an
action we do not handle) is answered with a CALLERROR, counted by reason, and
the connection and the endpoint carry on. The error codes are OCPP-J 1.6's:
FormatViolation (not JSON, or JSON beyond what the parser reads), ProtocolError,
Type/PropertyConstraintViolation, NotImplemented (an action not known to OCPP
1.6) and NotSupported (an OCPP 1.6 action this endpoint does not take, such as
Reset). InternalError is only ever a bug of this endpoint, never the answer
to a malformed frame. The one CALL this endpoint sends is
TriggerMessage(StatusNotification), once per connection, to a charger whose
connector statuses are unknown after its first message other than a boot (it
reconnected after our restart and will not repeat them by itself).

Personal data: an idTag identifies a person's charging card. It is never
kept, logged or exported; only sessions are counted. The ``ocpp`` package's
own logging (which prints raw messages) and websockets' frame logging are
switched off for this reason.

State, per charger of the inventory, in memory and bounded (connectors and
open transactions per charger are capped): connected, last message time,
per connector status, error code and vendor error code, the energy register
(``Energy.Active.Import.Register``, Wh) kept as a total that never decreases
(a register that goes down is a meter reset: the total carries on from the
value before, as Prometheus counters do), sessions started and stopped, boots.
A charger is *online* while its last message is less than ``offline_after``
x heartbeat interval old: computed from the clock at read time, not from the
socket closing (a dead LTE link keeps a TCP socket half-open for a long time).

:meth:`CentralSystem.snapshot` hands the service frozen :class:`ChargerSnapshot`
objects; :class:`OcppCollector` exports everything to Prometheus at scrape
time. Energy is exported in the base unit joules (1 Wh = 3600 J), as
Prometheus' naming conventions ask.

TLS (security profile 2) is the caller's :class:`ssl.SSLContext`
(:func:`stadtnetz.config.ocpp_security.server_tls_context`). Not here: the service's configuration and
wiring, calls from the central system to the charger (RemoteStart, Reset, ...).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import enum
import hmac
import json
import logging
import math
import ssl
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final, Literal
from urllib.parse import unquote, urlsplit

from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import FormatViolationError, NotSupportedError, OCPPError, ProtocolError
from ocpp.exceptions import NotImplementedError as NotImplementedCallError
from ocpp.messages import Call, CallError, MessageType, unpack, validate_payload
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, DataTransferStatus, RegistrationStatus
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from stadtnetz.clock import Clock, SystemClock
from stadtnetz.log_limit import LogLimiter
from stadtnetz.model import MAX_CONNECTORS, ChargerSnapshot, ConnectorSnapshot
from stadtnetz.own_metrics import Family, ScrapeCollector
from stadtnetz.secrets import Secret

log = logging.getLogger("stadtnetz.ocpp")

SUBPROTOCOL: Final = "ocpp1.6"
LOG_INTERVAL: Final = 60.0  # seconds between two log lines about the same kind of refusal or error
MAX_OPEN_TRANSACTIONS: Final = 64  # per charger; the oldest is forgotten beyond this
MAX_MESSAGE_BYTES: Final = 64 * 1024  # a bigger frame closes the connection (websockets: close code 1009)
ENERGY_MEASURAND: Final = "Energy.Active.Import.Register"
JOULES_PER_WH: Final = 3600.0

# websockets logs whole frames at DEBUG level (idTags among them): its logger for this server stays at WARNING
_WIRE_LOG = logging.getLogger("stadtnetz.ocpp.wire")
_WIRE_LOG.setLevel(logging.WARNING)
# the ocpp package logs raw messages (idTags among them) at INFO and ERROR: its charge points get a mute logger
_MUTE = logging.Logger("stadtnetz.ocpp.mute")
_MUTE.disabled = True

OCPP16_ACTIONS: Final = frozenset(action.value for action in Action)
Auth = Literal["basic", "none"]

HANDLED_ACTIONS: Final = (
    Action.boot_notification,
    Action.heartbeat,
    Action.status_notification,
    Action.meter_values,
    Action.start_transaction,
    Action.stop_transaction,
    Action.data_transfer,
)


class RefusedReason(enum.StrEnum):
    """Why a WebSocket handshake was refused; the ``reason`` label of the metrics."""

    UNKNOWN_CHARGER = "unknown_charger"  # no id in the path, or one not in the inventory (404)
    MISSING_CREDENTIALS = "missing_credentials"  # the charger has a password, the request had no Basic auth (401)
    BAD_CREDENTIALS = "bad_credentials"  # wrong username or password, or an unreadable Authorization header (401)
    NO_SUBPROTOCOL = "no_subprotocol"  # the client did not offer ocpp1.6 (400)


class ErrorReason(enum.StrEnum):
    """Why a message was answered with a CALLERROR or dropped; the ``reason`` label of the metrics."""

    INVALID_JSON = "invalid_json"  # FormatViolation: not JSON (or nested or numbered beyond what the parser reads)
    PROTOCOL = "protocol"  # JSON, but not an OCPP-J message (not a list, bad message type id, ...)
    SCHEMA = "schema"  # a CALL whose payload violates the OCPP 1.6 schema
    NOT_IMPLEMENTED = "not_implemented"  # no OCPP 1.6 action (NotImplemented) or not one we take (NotSupported)
    BAD_VALUE = "bad_value"  # schema-valid, but unusable: connector id out of range, meter value not a number
    # or negative or beyond a float
    HANDLER = "handler"  # a bug here: handling the message raised (InternalError answered)
    UNEXPECTED_RESULT = "unexpected_result"  # a CALLRESULT/CALLERROR, though this endpoint sends no CALLs


@dataclass(slots=True)
class ConnectorState:
    """What the last StatusNotification said about one connector (0: the charge point as a whole)."""

    status: str = ""  # "" until the first StatusNotification
    error_code: str = "NoError"
    vendor_error_code: str = ""
    since: float = 0.0  # wall time of the notification (the charger's timestamp is not trusted)


@dataclass(slots=True)
class _Register:
    """One connector's energy register (Wh) with the resets seen so far folded into ``offset``."""

    last: float = 0.0
    offset: float = 0.0

    def update(self, value: float) -> bool:
        """Take a new reading; True if it went down (a meter reset)."""
        reset = value < self.last
        if reset:
            self.offset += self.last
        self.last = value
        return reset

    @property
    def total(self) -> float:
        return self.offset + self.last


@dataclass(slots=True)
class ChargerState:
    """Everything known about one charger of the inventory (mutable; the endpoint owns it)."""

    id: str
    connected: bool = False
    last_message: float | None = None  # wall time of the last message from the charger
    last_message_monotonic: float | None = None
    connectors: dict[int, ConnectorState] = field(default_factory=dict)
    registers: dict[int, _Register] = field(default_factory=dict)
    meter_resets: int = 0
    sessions_started: int = 0
    sessions_stopped: int = 0
    boots: int = 0
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    open_transactions: OrderedDict[int, int] = field(default_factory=OrderedDict)  # transaction id -> connector

    @property
    def energy_wh(self) -> float:
        """Energy imported over all connectors, Wh; never decreases."""
        return sum(register.total for register in self.registers.values())


@dataclass(slots=True)
class OcppStats:
    """Counters of the endpoint; every key of the three dicts is always present."""

    refused: dict[RefusedReason, int] = field(default_factory=lambda: dict.fromkeys(RefusedReason, 0))
    messages: dict[str, int] = field(default_factory=lambda: dict.fromkeys(map(str, HANDLED_ACTIONS), 0))
    errors: dict[ErrorReason, int] = field(default_factory=lambda: dict.fromkeys(ErrorReason, 0))
    connections: int = 0  # accepted WebSocket connections
    status_requests: int = 0  # TriggerMessage(StatusNotification) sent to chargers whose statuses were unknown


def _now_iso(clock: Clock) -> str:
    return dt.datetime.fromtimestamp(clock.time(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _BadValueError(Exception):
    """A schema-valid message with a value this endpoint cannot use; answered with a CALLERROR."""


class _Session(ChargePoint):
    """One charger's connection: the ``ocpp`` package's routing, this endpoint's handlers.

    Schema validation is done once by :class:`CentralSystem` before routing (so that
    violations are counted), hence ``skip_schema_validation`` on every handler.
    """

    def __init__(self, charger: ChargerState, connection: ServerConnection, central: CentralSystem) -> None:
        super().__init__(charger.id, connection, logger=_MUTE)
        self.charger = charger
        self.central = central
        self.asked: str | None = None  # the unique id of our TriggerMessage, until its answer came
        self.asked_once = False

    def _connector(self, connector_id: int) -> int:
        if not 0 <= connector_id <= MAX_CONNECTORS:
            raise _BadValueError(f"connector id {connector_id} out of range 0..{MAX_CONNECTORS}")
        return connector_id

    @on(Action.boot_notification, skip_schema_validation=True)
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any) -> call_result.BootNotification:
        charger = self.charger
        charger.boots += 1
        charger.vendor, charger.model = charge_point_vendor, charge_point_model
        charger.firmware = kwargs.get("firmware_version") or ""
        charger.open_transactions.clear()  # a reboot ends what was open (its StopTransactions may follow)
        log.info("charger %s booted (%s %s)", charger.id, charge_point_vendor, charge_point_model)
        return call_result.BootNotification(
            current_time=_now_iso(self.central.clock),
            interval=self.central.heartbeat_interval_seconds,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat, skip_schema_validation=True)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now_iso(self.central.clock))

    @on(Action.status_notification, skip_schema_validation=True)
    def on_status(
        self, connector_id: int, error_code: str, status: str, vendor_error_code: str = "", **_: Any
    ) -> call_result.StatusNotification:
        number = self._connector(connector_id)
        self.charger.connectors[number] = ConnectorState(
            status=status, error_code=error_code, vendor_error_code=vendor_error_code, since=self.central.clock.time()
        )
        return call_result.StatusNotification()

    @on(Action.meter_values, skip_schema_validation=True)
    def on_meter_values(self, connector_id: int, meter_value: list[dict], **_: Any) -> call_result.MeterValues:
        number = self._connector(connector_id)
        reading: float | None = None
        for value in meter_value:
            for sampled in value.get("sampled_value", ()):
                found = _energy_wh(sampled)
                if found is not None:
                    reading = found  # the last one of the message is the newest
        if reading is not None:
            self._register(number, reading)
        return call_result.MeterValues()

    @on(Action.start_transaction, skip_schema_validation=True)
    def on_start(self, connector_id: int, meter_start: int, **_: Any) -> call_result.StartTransaction:
        # the idTag is among the keyword arguments: it is neither looked at nor kept
        number = self._connector(connector_id)
        start_wh = _meter_wh(meter_start)
        charger = self.charger
        transaction_id = self.central._next_transaction_id()
        charger.sessions_started += 1
        charger.open_transactions[transaction_id] = number
        while len(charger.open_transactions) > MAX_OPEN_TRANSACTIONS:
            charger.open_transactions.popitem(last=False)
        self._register(number, start_wh)
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted)
        )

    @on(Action.stop_transaction, skip_schema_validation=True)
    def on_stop(self, transaction_id: int, meter_stop: int, **kwargs: Any) -> call_result.StopTransaction:
        stop_wh = _meter_wh(meter_stop)  # an unusable reading is refused before anything is counted
        charger = self.charger
        charger.sessions_stopped += 1
        number = charger.open_transactions.pop(transaction_id, None)
        if number is not None:
            self._register(number, stop_wh)
        # idTagInfo only if the charger sent an idTag (the schema of the answer allows leaving it out)
        info = IdTagInfo(status=AuthorizationStatus.accepted) if kwargs.get("id_tag") is not None else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.data_transfer, skip_schema_validation=True)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    def _register(self, connector: int, wh: float) -> None:
        charger = self.charger
        register = charger.registers.get(connector)
        if register is None:
            register = charger.registers[connector] = _Register()
        if register.update(wh):
            charger.meter_resets += 1
            log.info("charger %s connector %d: energy register went down (meter reset)", charger.id, connector)


def _meter_wh(value: int) -> float:
    """A meterStart/meterStop (Wh, a JSON integer of any size) as a float; _BadValueError if unusable."""
    try:
        wh = float(value)
    except OverflowError:
        raise _BadValueError("meter value beyond any energy register") from None
    if wh < 0:
        raise _BadValueError("meter value is negative")
    return wh


def _energy_wh(sampled: Mapping[str, Any]) -> float | None:
    """The Wh of an Energy.Active.Import.Register sample (the total over phases, at the outlet), else None."""
    if sampled.get("measurand", ENERGY_MEASURAND) != ENERGY_MEASURAND or sampled.get("phase"):
        return None
    if sampled.get("location", "Outlet") != "Outlet" or sampled.get("format", "Raw") != "Raw":
        return None
    unit = sampled.get("unit", "Wh")
    if unit not in ("Wh", "kWh"):
        return None
    try:
        value = float(sampled["value"])
    except (KeyError, TypeError, ValueError):
        raise _BadValueError("energy register value is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise _BadValueError("energy register value is negative or not finite")
    return value * 1000.0 if unit == "kWh" else value


class CentralSystem:
    """The OCPP 1.6J endpoint for the chargers of the inventory.

    ``charge_points`` are the accepted charge point ids; ``passwords`` maps them
    to their Basic-auth password (security profile 1). With ``auth="basic"`` (the
    default) every one must have a password, else ValueError; ``auth="none"`` lets
    those without one connect on their id alone. Chargers are told
    ``heartbeat_interval`` (seconds) at boot and are offline after
    ``offline_after`` x that without any message.
    """

    def __init__(
        self,
        charge_points: Iterable[str],
        *,
        passwords: Mapping[str, Secret] | None = None,
        auth: Auth = "basic",
        heartbeat_interval: float = 300.0,
        offline_after: float = 3.0,
        clock: Clock | None = None,
    ) -> None:
        if heartbeat_interval < 1:
            raise ValueError("the heartbeat interval is at least 1 s (OCPP sends whole seconds)")
        if offline_after <= 1:
            raise ValueError("offline_after is a multiple of the heartbeat interval greater than 1")
        self.chargers: dict[str, ChargerState] = {cp_id: ChargerState(cp_id) for cp_id in charge_points}
        unknown = set(passwords or {}) - set(self.chargers)
        if unknown:
            raise ValueError(f"passwords for charge points not in the inventory: {', '.join(sorted(unknown))}")
        self._passwords = dict(passwords or {})
        if auth not in ("basic", "none"):
            raise ValueError(f"auth is 'basic' or 'none', not {auth!r}")
        without = sorted(set(self.chargers) - set(self._passwords))
        if auth == "basic" and without:
            shown = ", ".join(without[:5]) + (f" and {len(without) - 5} more" if len(without) > 5 else "")
            raise ValueError(
                f"auth is basic: no password for charge point(s) {shown}; give every one a password, "
                "or auth='none' to accept them on their id alone"
            )
        self.auth: Auth = auth
        self.open_ids = frozenset(without)  # accepted without credentials (auth none only)
        self.heartbeat_interval = float(heartbeat_interval)
        self.offline_after = float(offline_after)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.stats = OcppStats()
        self._limiter = LogLimiter(self.clock, LOG_INTERVAL)
        self._sessions: dict[str, ServerConnection] = {}
        self._transaction_id = 0
        self._calls = 0  # CALLs this endpoint sent (TriggerMessage)
        self._server: Server | None = None

    @property
    def heartbeat_interval_seconds(self) -> int:
        return max(1, round(self.heartbeat_interval))

    # ------------------------------------------------------------------ reading

    def online(self, charger: ChargerState) -> bool:
        last = charger.last_message_monotonic
        if last is None:
            return False
        # judged by the interval the chargers were told (whole seconds), not the configured float
        return self.clock.monotonic() - last < self.offline_after * self.heartbeat_interval_seconds

    def snapshot(self) -> dict[str, ChargerSnapshot]:
        """Every charger of the inventory as it is now, by id."""
        return {cp_id: self._snapshot(charger) for cp_id, charger in self.chargers.items()}

    def _snapshot(self, charger: ChargerState) -> ChargerSnapshot:
        return ChargerSnapshot(
            id=charger.id,
            connected=charger.connected,
            online=self.online(charger),
            last_message=charger.last_message,
            connectors=tuple(
                ConnectorSnapshot(number, c.status, c.error_code, c.vendor_error_code, c.since)
                for number, c in sorted(charger.connectors.items())
            ),
            energy_wh=charger.energy_wh,
            meter_resets=charger.meter_resets,
            sessions_started=charger.sessions_started,
            sessions_stopped=charger.sessions_stopped,
            boots=charger.boots,
            vendor=charger.vendor,
            model=charger.model,
            firmware=charger.firmware,
        )

    # ------------------------------------------------------------------ server

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> tuple[str, int]:
        """Listen on ``host``:``port`` (0: any free port); return the address actually bound.

        With ``tls`` (a server context, see :func:`stadtnetz.config.ocpp_security.server_tls_context`) chargers connect
        with ``wss://``: OCPP security profile 2, Basic auth over TLS.
        """
        if self._server is not None:
            raise RuntimeError("OCPP endpoint already started")
        self._server = await serve(
            self._connection,
            host,
            port,
            ssl=tls,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            process_request=self._handshake,
            max_size=MAX_MESSAGE_BYTES,
            logger=_WIRE_LOG,
        )
        bound = next(iter(self._server.sockets)).getsockname()
        return bound[0], bound[1]

    async def close(self) -> None:
        """Stop listening and close every connection; safe to call more than once."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def _next_transaction_id(self) -> int:
        self._transaction_id = self._transaction_id % 2_147_483_647 + 1  # OCPP's transactionId is a 32-bit int
        return self._transaction_id

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse unknown ids, bad credentials and clients that do not speak OCPP 1.6; accept the rest."""
        cp_id = _charge_point_id(request.path)
        if cp_id is None or cp_id not in self.chargers:
            return self._refuse(connection, RefusedReason.UNKNOWN_CHARGER, HTTPStatus.NOT_FOUND, "unknown charge point")
        password = self._passwords.get(cp_id)
        if password is not None:
            credentials = _basic_credentials(request.headers)
            if credentials is None and "Authorization" not in request.headers:
                return self._refuse(connection, RefusedReason.MISSING_CREDENTIALS, HTTPStatus.UNAUTHORIZED, cp_id)
            user, given = credentials or (b"", b"")
            # both compared in constant time, and both always compared
            user_ok = hmac.compare_digest(user, cp_id.encode())
            password_ok = hmac.compare_digest(given, password.reveal().encode())
            if not (user_ok and password_ok):
                return self._refuse(connection, RefusedReason.BAD_CREDENTIALS, HTTPStatus.UNAUTHORIZED, cp_id)
        offered = [p.strip() for h in request.headers.get_all("Sec-WebSocket-Protocol") for p in h.split(",")]
        if SUBPROTOCOL not in offered:
            return self._refuse(connection, RefusedReason.NO_SUBPROTOCOL, HTTPStatus.BAD_REQUEST, cp_id)
        return None

    def _refuse(self, connection: ServerConnection, reason: RefusedReason, status: HTTPStatus, what: str) -> Response:
        self.stats.refused[reason] += 1
        count = self._limiter.due(f"refused:{reason.value}")
        if count:
            peer = connection.remote_address[0] if connection.remote_address else "?"
            shown = what if reason is not RefusedReason.UNKNOWN_CHARGER else "an id not in the inventory"
            log.warning(
                "OCPP: refused %d connection(s) as %s since the last report; latest from %s: %s",
                count,
                reason.value,
                peer,
                shown,
            )
        response = connection.respond(status, f"{status.phrase}\n")
        if status is HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return response

    async def _connection(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        cp_id = _charge_point_id(connection.request.path)
        assert cp_id is not None  # the handshake checked it
        charger = self.chargers[cp_id]
        previous = self._sessions.get(cp_id)
        self._sessions[cp_id] = connection
        if previous is not None:  # the charger reconnected before the old socket died: the new one wins
            log.info("charger %s connected again; closing its previous connection", cp_id)
            await previous.close(1000, "replaced by a new connection")
        self.stats.connections += 1
        charger.connected = True
        log.info("charger %s connected", cp_id)
        session = _Session(charger, connection, self)
        try:
            async for raw in connection:
                await self._message(session, raw)
        except ConnectionClosed:
            pass
        finally:
            if self._sessions.get(cp_id) is connection:
                del self._sessions[cp_id]
                charger.connected = False
                log.info("charger %s disconnected", cp_id)

    async def _message(self, session: _Session, raw: str | bytes) -> None:
        """Handle one frame; never raises (short of the connection closing)."""
        charger = session.charger
        charger.last_message = self.clock.time()
        charger.last_message_monotonic = self.clock.monotonic()
        try:
            message = unpack(raw)
        except OCPPError as error:
            reason = ErrorReason.INVALID_JSON if error.code == "FormatViolation" else ErrorReason.PROTOCOL
            await self._call_error(session, _unique_id(raw), error, reason)
            return
        except (RecursionError, ValueError):  # nested deeper than the parser goes, an integer of > 4300 digits
            error = FormatViolationError(description="Message is JSON beyond what this endpoint reads")
            await self._call_error(session, _unique_id(raw), error, ErrorReason.INVALID_JSON)
            return
        except Exception:  # unpack copes with lists and dicts; anything else is not OCPP-J either
            await self._call_error(session, _unique_id(raw), ProtocolError(), ErrorReason.PROTOCOL)
            return
        if message.message_type_id != MessageType.Call:
            if session.asked is not None and message.unique_id == session.asked:
                session.asked = None  # the answer to our TriggerMessage; the StatusNotifications follow
                return
            self._count_error(ErrorReason.UNEXPECTED_RESULT, charger.id, "a CALLRESULT or CALLERROR, though no CALL")
            return
        if not isinstance(message.unique_id, str) or not isinstance(message.action, str):
            await self._call_error(session, "-1", ProtocolError(), ErrorReason.PROTOCOL)
            return
        if message.action not in session.route_map:
            # OCPP-J 1.6: NotImplemented "Requested Action is not known by receiver", NotSupported "Requested
            # Action is recognized but not supported by the receiver" (the ocpp package answers the two swapped)
            if message.action in OCPP16_ACTIONS:
                refusal: OCPPError = NotSupportedError(
                    description="Requested Action is recognized but not supported by the receiver"
                )
            else:
                refusal = NotImplementedCallError(description="Requested Action is not known by receiver")
            await self._call_error(session, message, refusal, ErrorReason.NOT_IMPLEMENTED)
            return
        try:
            await validate_payload(message, "1.6")
        except OCPPError as error:
            await self._call_error(session, message, error, ErrorReason.SCHEMA)
            return
        except Exception:  # jsonschema trouble (a payload too deep to walk): a schema problem, keep serving
            error = FormatViolationError(description="Payload for Action could not be validated")
            await self._call_error(session, message, error, ErrorReason.SCHEMA)
            return
        self.stats.messages[message.action] = self.stats.messages.get(message.action, 0) + 1
        try:
            await self._route(session, message)
            if not charger.connectors and not session.asked_once and message.action != Action.boot_notification:
                await self._ask_for_statuses(session)
        except ConnectionClosed:
            return  # the answer could not be sent; the charger will send again
        except _BadValueError as error:
            await self._call_error(session, message, error, ErrorReason.BAD_VALUE)
        except Exception as error:
            log.debug("OCPP %s handler of charger %s failed", message.action, charger.id, exc_info=True)
            await self._call_error(session, message, error, ErrorReason.HANDLER)

    async def _ask_for_statuses(self, session: _Session) -> None:
        """A charger that reconnected without booting (after our restart, or its link's) does not repeat its
        connectors' statuses: ask for them once per connection, with TriggerMessage(StatusNotification), the
        only CALL this endpoint makes (it changes nothing on the charger)."""
        session.asked_once = True
        self._calls += 1
        session.asked = f"stadtnetz-{self._calls}"
        request = Call(session.asked, Action.trigger_message, {"requestedMessage": "StatusNotification"})
        await session._connection.send(request.to_json())
        self.stats.status_requests += 1

    async def _route(self, session: _Session, message: Call) -> None:
        """The ``ocpp`` package's routing of one validated CALL, with this endpoint's errors kept apart."""
        handler = session.route_map[message.action]["_on_action"]
        if not isinstance(message.payload, dict):
            raise _BadValueError("payload is not an object")
        result = handler(**camel_to_snake_case(message.payload))
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(result)))
        await session._connection.send(message.create_call_result(payload).to_json())

    async def _call_error(self, session: _Session, about: Call | str, error: Exception, reason: ErrorReason) -> None:
        if isinstance(about, Call):
            answer = about.create_call_error(error)
            if isinstance(error, _BadValueError):
                answer = CallError(about.unique_id, "PropertyConstraintViolation", str(error), {})
        else:  # a frame that is no CALL we could read: always one of OCPP's format or protocol errors
            known = error if isinstance(error, OCPPError) else ProtocolError()
            answer = CallError(about, known.code, known.description, {})
        answer.error_details = {}  # the package puts the offending message there: it may hold an idTag
        self._count_error(reason, session.charger.id, answer.error_code)
        with contextlib.suppress(ConnectionClosed):
            await session._connection.send(answer.to_json())

    def _count_error(self, reason: ErrorReason, cp_id: str, what: str) -> None:
        self.stats.errors[reason] += 1
        count = self._limiter.due(f"error:{reason.value}")
        if count:
            log.warning(
                "OCPP: %d message(s) rejected as %s since the last report; latest from %s: %s",
                count,
                reason.value,
                cp_id,
                what,
            )


def _charge_point_id(path: str) -> str | None:
    """The last segment of the request path, percent-decoded; None if there is none."""
    segment = urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1]
    cp_id = unquote(segment)
    return cp_id or None


def _basic_credentials(headers: Headers) -> tuple[bytes, bytes] | None:
    """(username, password) of a Basic Authorization header, None if absent or unreadable."""
    try:
        value = headers["Authorization"]
    except KeyError:
        return None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


def _unique_id(raw: str | bytes) -> str:
    """The unique id of a frame that could not be unpacked, if it has one where it should; else "-1"."""
    try:
        message = json.loads(raw)
    except (ValueError, TypeError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return "-1"
    if isinstance(message, list) and len(message) > 1 and isinstance(message[1], str):
        return message[1][:36]
    return "-1"


_CONNECTED = Family(
    "gauge", "stadtnetz_charger_connected", "1 while the charger has a WebSocket connection open.", ("charger",)
)
_ONLINE = Family(
    "gauge",
    "stadtnetz_charger_online",
    "1 while the charger's last OCPP message is less than offline_after x heartbeat interval old.",
    ("charger",),
)
_LAST_MESSAGE = Family(
    "gauge",
    "stadtnetz_charger_last_message_timestamp_seconds",
    "When the last OCPP message from the charger arrived (seconds since the epoch).",
    ("charger",),
)
_CONNECTOR_STATUS = Family(
    "gauge",
    "stadtnetz_charger_connector_status",
    "The connector's OCPP status: one series with value 1, its status label the current one.",
    ("charger", "connector", "status"),
)
_CONNECTOR_ERROR = Family(
    "gauge",
    "stadtnetz_charger_connector_error",
    "The connector's OCPP error code and the vendor's own (empty if none): one series with value 1.",
    ("charger", "connector", "error_code", "vendor_error_code"),
)
_ENERGY = Family(
    "counter",
    "stadtnetz_charger_energy_joules",
    "Energy imported through the charger (Energy.Active.Import.Register over its connectors, resets "
    "folded in), joules.",
    ("charger",),
)
_SESSIONS = Family(
    "counter",
    "stadtnetz_charger_sessions",
    "Charging sessions (transactions) the charger reported, by event (started, stopped).",
    ("charger", "event"),
)
_BOOTS = Family("counter", "stadtnetz_charger_boots", "BootNotifications from the charger.", ("charger",))
_REFUSED = Family(
    "counter", "stadtnetz_ocpp_connections_refused", "OCPP WebSocket handshakes refused, by reason.", ("reason",)
)
_MESSAGES = Family("counter", "stadtnetz_ocpp_messages", "Valid OCPP CALLs handled, by action.", ("action",))
_ERRORS = Family(
    "counter",
    "stadtnetz_ocpp_errors",
    "OCPP frames answered with a CALLERROR (or dropped), by reason.",
    ("reason",),
)
_ACCEPTED = Family("counter", "stadtnetz_ocpp_connections", "OCPP WebSocket connections accepted.")
_STATUS_REQUESTS = Family(
    "counter",
    "stadtnetz_ocpp_status_requests",
    "TriggerMessage(StatusNotification) sent to chargers that reconnected with their statuses unknown.",
)


class OcppCollector(ScrapeCollector):
    """Exports the endpoint's chargers and counters at scrape time (register it with a CollectorRegistry)."""

    families = (
        _CONNECTED,
        _ONLINE,
        _LAST_MESSAGE,
        _CONNECTOR_STATUS,
        _CONNECTOR_ERROR,
        _ENERGY,
        _SESSIONS,
        _BOOTS,
        _REFUSED,
        _MESSAGES,
        _ERRORS,
        _ACCEPTED,
        _STATUS_REQUESTS,
    )

    def __init__(self, central: CentralSystem) -> None:
        self.central = central

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        central = self.central
        for cp_id, charger in sorted(central.chargers.items()):
            yield _CONNECTED, [cp_id], int(charger.connected)
            yield _ONLINE, [cp_id], int(central.online(charger))
            if charger.last_message is not None:
                yield _LAST_MESSAGE, [cp_id], charger.last_message
            for number, connector in sorted(charger.connectors.items()):
                if connector.status:
                    yield _CONNECTOR_STATUS, [cp_id, str(number), connector.status], 1
                    yield _CONNECTOR_ERROR, [cp_id, str(number), connector.error_code, connector.vendor_error_code], 1
            yield _ENERGY, [cp_id], charger.energy_wh * JOULES_PER_WH
            yield _SESSIONS, [cp_id, "started"], charger.sessions_started
            yield _SESSIONS, [cp_id, "stopped"], charger.sessions_stopped
            yield _BOOTS, [cp_id], charger.boots
        stats = central.stats
        for reason in RefusedReason:
            yield _REFUSED, [reason.value], stats.refused[reason]
        for action, count in sorted(stats.messages.items()):
            yield _MESSAGES, [action], count
        for error in ErrorReason:
            yield _ERRORS, [error.value], stats.errors[error]
        yield _ACCEPTED, (), stats.connections
        yield _STATUS_REQUESTS, (), stats.status_requests
