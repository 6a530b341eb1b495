"""What each section of the configuration turns into: settings, credentials, defaults, groups, devices, history,
influx, ocpp, planning, web and opendata, from their validated specs.

Owns :class:`SectionReader`, the part of the loader that reads one section of one file (its methods are the
loader's; :class:`stadtnetz.config.loader._Loader` holds the state they fill).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stadtnetz.config.errors import Origin, Where, _Collector
from stadtnetz.config.inventory import DeviceEntry, GroupEntry, Layer
from stadtnetz.config.ocpp_security import server_tls_context
from stadtnetz.config.rules import check_name
from stadtnetz.config.schema import (
    CredentialSpec,
    DeviceSpec,
    GroupSpec,
    HistorySpec,
    InfluxSpec,
    LayerSpec,
    OcppSpec,
    OpenDataSpec,
    PlanningSpec,
    SettingsSpec,
    WebSpec,
    WebUserSpec,
)
from stadtnetz.config.yaml_lines import _Document, join_path
from stadtnetz.model import (
    FundingThresholds,
    HistorySettings,
    InfluxSettings,
    InfluxSpool,
    OcppSettings,
    OpenDataSettings,
    Operator,
    PlanningSettings,
    Settings,
    SnmpCredentials,
    V3User,
    WebSettings,
    WebUser,
)
from stadtnetz.secrets import Secret


@dataclass(slots=True)
class _SectionOnce:
    """``settings`` and ``defaults`` may be written in one file only; remembers where."""

    where: Where | None = None


class SectionReader:
    """The loader's readers of single sections (mixed into :class:`stadtnetz.config.loader._Loader`).

    The state they fill is the loader's (set in ``_Loader.__init__``), as are ``validate``, ``validate_partly`` and
    ``once``.
    """

    environ: dict[str, str]
    reporter: _Collector
    settings: Settings
    settings_seen: _SectionOnce
    base: Layer
    credentials: dict[str, SnmpCredentials]
    credential_origin: dict[str, Where]
    defaults: Layer
    defaults_seen: _SectionOnce
    groups: dict[str, GroupEntry]
    entries: list[DeviceEntry]
    device_items: int
    history: HistorySettings
    history_seen: _SectionOnce
    influx: tuple[InfluxSettings, _Document] | None
    influx_seen: _SectionOnce
    ocpp: tuple[OcppSettings, Secret | None] | None
    ocpp_seen: _SectionOnce
    planning: PlanningSettings | None
    planning_seen: _SectionOnce
    web: WebSettings
    web_seen: _SectionOnce
    opendata: OpenDataSettings
    opendata_seen: _SectionOnce
    opendata_invalid: bool

    def directories(self, document: _Document, field: str, names: list[str], what: str) -> list[str]:
        """Directories named in settings, made absolute (relative to the file); each must exist."""
        directories: list[str] = []
        for index, name in enumerate(names):
            directory = (document.file.parent / name).resolve()
            if not directory.is_dir():
                self.reporter.error(
                    document.where(join_path(f"settings.{field}", index)),
                    f"{what} directory {directory} does not exist; paths are relative to this file",
                )
            directories.append(str(directory))
        return directories

    def process_settings(self, document: _Document, raw: dict) -> None:
        if not self.once(self.settings_seen, document, "settings"):
            return
        context = {"base_dir": document.file.parent, "environ": self.environ}
        spec, _ = self.validate_partly(document, "settings", SettingsSpec, raw, context)
        if spec is None:
            return
        directories = self.directories(document, "profile_dirs", spec.profile_dirs, "profile")
        mib_directories = self.directories(document, "mib_dirs", spec.mib_dirs, "MIB module")
        self.settings = Settings(
            interval=spec.interval,
            timeout=spec.timeout,
            retries=spec.retries,
            concurrency=spec.concurrency,
            max_in_flight_per_device=spec.max_in_flight_per_device,
            max_repetitions=spec.max_repetitions,
            listen_host=spec.listen[0],
            listen_port=spec.listen[1],
            profile_dirs=tuple(directories),
            mib_dirs=tuple(mib_directories),
            ping_count=spec.ping_count,
            ping_timeout=spec.ping_timeout,
            degraded_loss=spec.degraded_loss,
            degraded_rtt=spec.degraded_rtt,
            flap_high=spec.flap_high,
            flap_low=spec.flap_low,
            trap_listen=spec.trap_listen,
            trap_community=spec.trap_community,
            trap_v3_users=tuple(
                V3User(u.user, u.auth_protocol, u.auth_key, u.priv_protocol, u.priv_key, u.engine_id)
                for u in spec.trap_v3_users
            ),
        )
        explicit = spec.model_fields_set
        self.base = Layer(
            origin=document.origin("settings"),
            interval=spec.interval if "interval" in explicit else None,
            timeout=spec.timeout if "timeout" in explicit else None,
            retries=spec.retries if "retries" in explicit else None,
        )

    def process_history(self, document: _Document, raw: dict) -> None:
        if not self.once(self.history_seen, document, "history"):
            return
        spec = self.validate(document, "history", HistorySpec, raw)
        if spec is None:
            return
        path = None
        if spec.path is not None and spec.path.strip():
            path = Path(os.path.normpath(document.file.parent / spec.path.strip()))
            if not path.parent.is_dir():
                self.reporter.error(
                    document.where("history.path"),
                    f"directory {path.parent} does not exist; create it (paths are relative to this file)",
                )
                return
            if path.is_dir():
                self.reporter.error(document.where("history.path"), f"{path} is a directory; name a file in it")
                return
        self.history = HistorySettings(
            path=path,
            transitions_retention=spec.retention.transitions,
            outages_retention=spec.retention.outages,
            rollups_retention=spec.retention.rollups,
            availability_retention=spec.retention.availability,
            max_pending=spec.max_pending,
        )

    def process_influx(self, document: _Document, raw: dict) -> None:
        if not self.once(self.influx_seen, document, "influx"):
            return
        context = {"base_dir": document.file.parent, "environ": self.environ}
        spec = self.validate(document, "influx", InfluxSpec, raw, context)
        if spec is None:
            return
        spool_path = Path(os.path.abspath(document.file.parent / spec.spool.path))
        if spool_path.exists() and not spool_path.is_dir():
            self.reporter.error(
                document.where("influx.spool.path"),
                f"{spool_path} exists and is not a directory; the spool needs a directory of its own",
            )
            return
        spool = InfluxSpool(str(spool_path), spec.spool.max_bytes, spec.spool.fsync, spec.spool.fsync_interval)
        self.influx = (
            InfluxSettings(
                url=spec.url,
                org=spec.org,
                bucket=spec.bucket,
                spool=spool,
                token=spec.token,
                precision=spec.precision,
                batch_size=spec.batch_size,
                flush_interval=spec.flush_interval,
                timeout=spec.timeout,
                max_retry_interval=spec.max_retry_interval,
                gzip=spec.gzip,
            ),
            document,
        )

    def process_ocpp(self, document: _Document, raw: dict) -> None:
        if not self.once(self.ocpp_seen, document, "ocpp"):
            return
        context = {"base_dir": document.file.parent, "environ": self.environ}
        spec = self.validate(document, "ocpp", OcppSpec, raw, context)
        if spec is None:
            return
        certificate = key = None
        if spec.tls is not None:
            certificate = Path(os.path.abspath(document.file.parent / spec.tls.certificate))
            key = Path(os.path.abspath(document.file.parent / spec.tls.key))
            try:
                server_tls_context(certificate, key)
            except (OSError, ssl.SSLError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.reporter.error(
                    document.where("ocpp.tls"),
                    f"cannot use the certificate {certificate} with the key {key}: {reason} "
                    "(PEM files, paths relative to this file, the key matching the certificate)",
                )
                return
        settings = OcppSettings(
            listen=spec.listen,
            heartbeat_interval=spec.heartbeat_interval,
            offline_after=spec.offline_after,
            tls_certificate=certificate,
            tls_key=key,
            availability_target=spec.availability_target,
            availability_window=spec.availability_window,
            auth=spec.auth,
        )
        self.ocpp = (settings, spec.password)

    def process_planning(self, document: _Document, raw: dict) -> None:
        if not self.once(self.planning_seen, document, "planning"):
            return
        # the fields that are fine are still used, so a missing file is reported together with a bad value
        spec, _ = self.validate_partly(document, "planning", PlanningSpec, raw)
        if spec is None:
            return
        files: dict[Path, Where] = {}
        for index, name in enumerate(spec.addresses):
            where = document.where(join_path("planning.addresses", index))
            path = self.planning_file(document, where.field, name, "address list")
            if path in files:
                self.reporter.error(where, f"address list {path} is already named at {files[path]}; name each once")
                continue
            files[path] = where
        routes = None
        if spec.routes is not None:
            routes = self.planning_file(document, "planning.routes", spec.routes, "route file")
        area = spec.area
        funding = spec.funding
        self.planning = PlanningSettings(
            address_files=tuple(files),
            routes=routes,
            crs=spec.crs,
            area=None if area is None else (area.south, area.west, area.north, area.east),
            ags=tuple(spec.ags),
            cost_per_metre=(("sealed", spec.cost_per_metre.sealed), ("unsealed", spec.cost_per_metre.unsealed)),
            default_surface=spec.default_surface,
            detour=spec.detour,
            window=spec.window,
            headroom=spec.headroom,
            funding=FundingThresholds(
                funding.white, funding.grey, funding.symmetric, funding.download, funding.gigabit
            ),
        )

    def process_web(self, document: _Document, raw: dict) -> None:
        if not self.once(self.web_seen, document, "web"):
            return
        context = {"base_dir": document.file.parent, "environ": self.environ}
        # the fields that are fine are still used: a bad title does not hide a bad password hash
        spec, _ = self.validate_partly(document, "web", WebSpec, raw, context)
        if spec is None:
            return
        users = []
        for name, item in spec.users.items():
            user = self.validate(document, join_path("web.users", name), WebUserSpec, item, context)
            if user is not None:
                users.append(WebUser(name, user.password_hash))
        image = spec.map_image
        self.web = WebSettings(
            public=spec.public,
            users=tuple(users),
            metrics_login=spec.metrics_login,
            title=spec.title,
            public_kinds=tuple(spec.public_kinds),
            tile_url=None if image is None else image.url,
            tile_bounds=None if image is None else (image.south, image.west, image.north, image.east),
            incidents=spec.incidents,
        )

    def process_opendata(self, document: _Document, raw: dict) -> None:
        if not self.once(self.opendata_seen, document, "opendata"):
            return
        spec = self.validate(document, "opendata", OpenDataSpec, raw)
        if spec is None:
            self.opendata_invalid = True
            return
        operator = None
        if spec.operator is not None:
            given = spec.operator
            operator = Operator(
                name=given.name,
                party_id=given.party_id,
                country_code=given.country_code,
                legal_name=given.legal_name or given.name,
                website=given.website or "",
                phone=given.phone,
                email=given.email,
            )
        self.opendata = OpenDataSettings(
            licence=spec.licence,
            attribution=spec.attribution or (operator.name if operator is not None else ""),
            hotspot_kinds=tuple(spec.hotspot_kinds),
            hotspot_tags=tuple(spec.hotspot_tags),
            operator=operator,
            time_zone=spec.time_zone,
            nuts=spec.nuts or "",
            language=spec.language,
            test=spec.test,
        )

    def planning_file(self, document: _Document, field: str, name: str, what: str) -> Path:
        """A file named in ``planning``, relative to this file; reported unless it is a file that exists."""
        path = Path(os.path.normpath(document.file.parent / name.strip()))
        if not path.is_file():
            problem = "is a directory; name the file in it" if path.is_dir() else "does not exist"
            self.reporter.error(document.where(field), f"{what} {path} {problem}; paths are relative to this file")
        return path

    def process_credentials(self, document: _Document, name: str, raw: Any) -> None:
        path = join_path("credentials", name)
        if message := check_name(name, "credentials name"):
            self.reporter.error(document.where(path), message)
            return
        if name in self.credential_origin:
            self.reporter.error(
                document.where(path),
                f"credentials {name!r} are already defined at {self.credential_origin[name]}; "
                "each name may be defined once",
            )
            return
        self.credential_origin[name] = document.where(path)
        context = {"base_dir": document.file.parent, "environ": self.environ}
        spec = self.validate(document, path, CredentialSpec, raw, context)
        if spec is not None:
            user = None
            if spec.version == 3:
                assert spec.user is not None
                user = V3User(
                    spec.user,
                    auth_protocol=spec.auth_protocol or "none",
                    auth_key=spec.auth_key,
                    priv_protocol=spec.priv_protocol or "none",
                    priv_key=spec.priv_key,
                )
            self.credentials[name] = SnmpCredentials(
                name=name, version=spec.version, community=spec.community, user=user, context_name=spec.context_name
            )

    def process_defaults(self, document: _Document, raw: dict) -> None:
        if not self.once(self.defaults_seen, document, "defaults"):
            return
        spec, _ = self.validate_partly(document, "defaults", LayerSpec, raw)
        if spec is not None:
            self.defaults = _layer(spec, document.origin("defaults"))

    def process_group(self, document: _Document, name: str, raw: Any) -> None:
        path = join_path("groups", name)
        if message := check_name(name, "group name"):
            self.reporter.error(document.where(path), message)
            return
        if name in self.groups:
            first = self.groups[name].layer.origin.at()
            self.reporter.error(
                document.where(path),
                f"group {name!r} is already defined at {first}; each group may be defined once",
            )
            return
        spec, _ = self.validate_partly(document, path, GroupSpec, {} if raw is None else raw)
        if spec is None:  # keep the name known, so devices naming it get no follow-up errors
            self.groups[name] = GroupEntry(name, Layer(origin=document.origin(path)))
            return
        self.groups[name] = GroupEntry(name, _layer(spec, document.origin(path)), tuple(spec.kinds), spec.parent)

    def process_device(self, document: _Document, path: str, raw: Any) -> None:
        self.device_items += 1
        origin = document.origin(path)
        # a device with a bad field keeps its valid ones (marked broken): its id still counts for duplicates
        # and upstream links, and its references are still checked
        spec, failed = self.validate_partly(document, path, DeviceSpec, raw, placeholders=_DEVICE_PLACEHOLDERS)
        if spec is None:
            return
        host, port = spec.address
        self.entries.append(
            DeviceEntry(
                id=spec.id,
                layer=_layer(spec, origin),
                kind="" if failed and "kind" in failed else spec.kind,
                host=host,
                port=port,
                site=spec.site,
                district=spec.district,
                lat=spec.lat,
                lon=spec.lon,
                upstream=spec.upstream,
                model=spec.model,
                group=spec.group,
                backhaul=spec.backhaul,
                broken=failed is not None,
            )
        )


_DEVICE_PLACEHOLDERS = {"kind": "invalid", "address": "0.0.0.0"}  # stand-ins in a broken device's partial spec


def _layer(spec: LayerSpec | GroupSpec | DeviceSpec, origin: Origin) -> Layer:
    return Layer(
        origin=origin,
        credentials=spec.credentials,
        profiles=tuple(spec.profiles) if spec.profiles is not None else None,
        interval=spec.interval,
        timeout=spec.timeout,
        retries=spec.retries,
        ping=spec.ping,
        tags=tuple(spec.tags),
    )
