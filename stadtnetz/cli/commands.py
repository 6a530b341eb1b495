"""The ``stadtnetz`` command group, and the one place every command is registered on it.

Each command lives in its own module (simulate, demo, run, check, maintenance,
report, planning, dashboards, web), declared with ``@click.command()``/``@click.group()``; none of them
imports this module. Exit codes: 0 success, 1 runtime failure, 2 usage or
configuration error.
"""

from __future__ import annotations

import click

from stadtnetz import __version__
from stadtnetz.cli.check import check
from stadtnetz.cli.dashboards import dashboards
from stadtnetz.cli.demo import demo
from stadtnetz.cli.maintenance import maintenance
from stadtnetz.cli.planning import export, gaps_report
from stadtnetz.cli.report import report
from stadtnetz.cli.run import poll, run
from stadtnetz.cli.simulate import scenario, simulate
from stadtnetz.cli.web import web


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="stadtnetz")
def main() -> None:
    """stadtnetz: monitoring for the networks a German municipal utility runs.

    Fibre backbone, public WLAN hotspots and the modems of EV charging points,
    polled over SNMP and pinged, each device's status told apart (down, or
    unreachable behind a failed upstream), published to Prometheus. Start with
    `stadtnetz demo`.
    """


main.add_command(simulate)
main.add_command(scenario)
main.add_command(demo)
main.add_command(run)
main.add_command(poll)
main.add_command(check)
main.add_command(maintenance)
main.add_command(export)
main.add_command(report)
main.add_command(dashboards)
report.add_command(gaps_report)
main.add_command(web)
