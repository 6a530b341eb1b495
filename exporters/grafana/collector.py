"""The collector dashboard: whether Prometheus reaches the collector, poll durations, results, overruns,
timeouts, scheduler lag, how old the devices' last answers are, and the process's own CPU and memory."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from exporters.grafana.mixin import SCOPE, MixinConfig, selector
from exporters.grafana.panels import Board, Query, stat_panel, timeseries_panel

NAME = "collector"


def _quantile(q: float, bucket: str) -> Query:
    return Query(f"histogram_quantile({q}, sum by (le) (rate({selector(bucket)}[$__rate_interval])))",
                 legend=f"p{round(q * 100)}")


def _rate(metric: str, legend: str, by: str = "") -> Query:
    group = f" by ({by})" if by else ""
    return Query(f"sum{group} (rate({selector(metric)}[$__rate_interval]))", legend=legend)


def dashboard(config: MixinConfig) -> Dashboard:
    board = Board(
        NAME,
        "stadtnetz / Collector",
        "The stadtnetz process itself: is it scraped, does polling keep up, how old is what it knows.",
        config,
    )
    board.add(stat_panel("Collector up", "none", Query(f"up{{{SCOPE}}}", legend="{{instance}}")), 4, 4)
    board.add(stat_panel(
        "Devices scheduled", "short", Query(f"sum({selector('stadtnetz_scheduler_devices')})"),
    ), 4, 4)
    board.add(stat_panel(
        "Polls in flight", "short", Query(f"sum({selector('stadtnetz_scheduler_polls_in_flight')})"),
    ), 4, 4)
    board.add(stat_panel(
        "Scrape duration of /metrics", "s", Query(f"max(scrape_duration_seconds{{{SCOPE}}})"),
        description="How long Prometheus took to scrape the collector's /metrics.",
    ), 4, 4)
    board.add(stat_panel(
        "CPU", "percentunit",
        Query(f"sum(rate({selector('process_cpu_seconds_total')}[$__rate_interval]))"),
        description="Share of one core the collector process uses.",
    ), 4, 4)
    board.add(stat_panel(
        "Memory (RSS)", "bytes", Query(f"sum({selector('process_resident_memory_bytes')})"),
    ), 4, 4)
    board.add(timeseries_panel(
        "Poll duration", "s",
        _quantile(0.5, "stadtnetz_poll_duration_seconds_bucket"),
        _quantile(0.95, "stadtnetz_poll_duration_seconds_bucket"),
        _quantile(0.99, "stadtnetz_poll_duration_seconds_bucket"),
        description="One device poll from first request to last answer (or timeout).",
    ), 12, 8)
    board.add(timeseries_panel(
        "Polls by result", "cps", _rate("stadtnetz_polls_total", "{{result}}", "result"), stack=True, minimum=0,
    ), 12, 8)
    board.add(timeseries_panel(
        "Overruns, SNMP timeouts and retransmissions", "cps",
        _rate("stadtnetz_scheduler_overruns_total", "overruns"),
        _rate("stadtnetz_snmp_timeouts_total", "timeouts"),
        _rate("stadtnetz_snmp_retransmissions_total", "retransmissions"),
        description="An overrun is a poll skipped because the device's previous one was still running.",
        minimum=0,
    ), 12, 8)
    board.add(timeseries_panel(
        "Scheduler lag", "s",
        _quantile(0.5, "stadtnetz_scheduler_lag_seconds_bucket"),
        _quantile(0.95, "stadtnetz_scheduler_lag_seconds_bucket"),
        description="How late polls start after their scheduled time.",
    ), 12, 8)
    board.add(timeseries_panel(
        "Age of the devices' last answers (the ten oldest)", "s",
        Query(f"topk(10, time() - {selector('stadtnetz_device_last_seen_timestamp_seconds')})",
              legend="{{device}}"),
        description="Seconds since each device last answered: the lag between the network and what Prometheus "
        "scrapes; it grows for a device that stopped answering.",
        minimum=0,
    ), 24, 8)
    return board.build()
