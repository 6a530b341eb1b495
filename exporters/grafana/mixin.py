"""The stadtnetz mixin's one place: the job and the selectors that the dashboards and the alert rules share.

Owns the Prometheus-mixin convention of this project: a :class:`MixinConfig` says which Prometheus ``job``
scrapes stadtnetz (default ``"stadtnetz"``) and which basemap the hotspot map draws; the selector strings
below are used by the dashboard panels AND appear, character for character, in the alert rules of
``config/alerts/`` (``tests/test_dashboards.py`` checks that), so a backbone port or a WLAN device is the same
thing on a graph and in an alert.

The alert rules stay the tested source (``config/alerts/*.rules.yml``, unit-tested with ``promtool test
rules``); wherever a rule selects the job it writes the default selector ``job="stadtnetz"``, and
:func:`alert_rules` writes them with the configured job instead. So a user changes ``job`` once
(``stadtnetz dashboards build --job NAME --out DIR``) and gets dashboards and rules that agree. Needs no
Grafana SDK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "config" / "alerts"
DEFAULT_JOB = "stadtnetz"
# A job name the builder accepts: it goes into PromQL strings and YAML unquoted-safe, and into a regex matcher
# (job=~"$job"), where these characters stand for themselves ('.' matches itself too).
_JOB = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")

# --- selectors shared by panels and rules (the rules contain these strings verbatim) ---
BACKBONE_KINDS = 'kind=~"core_router|distribution_switch"'
# a backbone port: one named by the backbone convention (alias "Uplink <device>" / "Ring <device>")
BACKBONE_PORTS = 'kind=~"core_router|distribution_switch", alias=~"(Uplink|Ring)( .*)?"'
WLAN_KINDS = 'kind=~"hotspot|school_ap"'

# --- the dashboards' matchers, from their variables ---
SCOPE = 'job=~"$job", instance=~"$instance"'  # every selector of a stadtnetz series carries it
DISTRICT = 'district=~"$district"'
KIND = 'kind=~"$kind"'


@dataclass(frozen=True, slots=True)
class MixinConfig:
    """What a user may change: the Prometheus job of the stadtnetz targets, and the hotspot map's basemap.

    ``basemap_url``: an XYZ tile URL (``https://tiles.example.org/{z}/{x}/{y}.png``) for the geomap's base
    layer; empty (the default) assumes no tile server: the map uses the Grafana server's own default base layer
    (``[geomap] default_baselayer_config`` in grafana.ini, which an operator without internet points at their
    own tiles); the hotspot markers are drawn either way.
    """

    job: str = DEFAULT_JOB
    basemap_url: str = ""

    def __post_init__(self) -> None:
        if not _JOB.match(self.job):
            raise ValueError(
                f"job {self.job!r}: letters, digits, '_', '.', ':' and '-' only (at most 100), starting with a "
                "letter, digit or '_'"
            )
        if self.basemap_url and not re.match(r"^https?://\S+$", self.basemap_url):
            raise ValueError(f"basemap URL {self.basemap_url!r}: an http(s) URL with {{z}}/{{x}}/{{y}}")

    @property
    def job_selector(self) -> str:
        """The matcher an alert rule selects the stadtnetz targets with: ``job="stadtnetz"``."""
        return f'job="{self.job}"'


DEFAULT = MixinConfig()


def selector(metric: str, *matchers: str) -> str:
    """``metric{job=~"$job", instance=~"$instance", <matchers>}``: a dashboard's selector of a stadtnetz series."""
    return f"{metric}{{{', '.join((SCOPE, *matchers))}}}"


def rule_files() -> list[Path]:
    """The alert and recording rule files, in name order."""
    return sorted(RULES_DIR.glob("*.rules.yml"))


def alert_rules(config: MixinConfig = DEFAULT) -> dict[str, str]:
    """Each rule file's name and text with the configured job: with the default job, exactly the files as they are.

    Every ``job="stadtnetz"`` in a rule file is the default job selector (tests/test_dashboards.py checks that no
    other job matcher is written there), so it is replaced as a whole and nothing else changes.
    """
    return {path.name: path.read_text(encoding="utf-8").replace(DEFAULT.job_selector, config.job_selector)
            for path in rule_files()}
