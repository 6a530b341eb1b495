"""``stadtnetz dashboards``: build the Grafana dashboards (and the alert rules with the same job), upload them.

Owns these subcommands' options, output and exit codes (0 done, 1 Grafana unreachable or refusing, 2 a usage
error or the Grafana SDK missing for ``build``); the dashboards are :mod:`exporters.grafana`'s. ``upload``
needs no SDK: it sends the JSON files already built.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stadtnetz.cli.common import EXIT_CONFIG, EXIT_RUNTIME, console, out

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "dashboards"
SDK_MISSING = "the Grafana SDK is not installed: pip install 'stadtnetz[dashboards]'"


@click.group()
def dashboards() -> None:
    """Grafana dashboards as code: six dashboards over the stadtnetz metrics, and their provisioning files.

    The dashboards, the provisioning YAML and the alert rules share one set of selectors
    (exporters/grafana/mixin.py), so the Prometheus job is changed in one place: --job.
    """


@dashboards.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write here: the dashboards, provisioning/ and the alert rules with the job (alerts/). "
    "Default: the repository's dashboards/ (the alert rules stay in config/alerts/).",
)
@click.option("--job", default=None, metavar="NAME", help="The Prometheus job scraping stadtnetz [default: stadtnetz].")
@click.option(
    "--basemap-url",
    default="",
    metavar="URL",
    help="XYZ tile URL for the hotspot map's base layer, e.g. https://tiles.example.org/{z}/{x}/{y}.png; "
    "default: the Grafana server's own default base layer.",
)
def build(out_dir: Path | None, job: str | None, basemap_url: str) -> None:
    """Write the dashboards' JSON and Grafana provisioning files (and with --out the alert rules too).

    The same code and options give the same bytes; without --job and --basemap-url the result is what the
    repository holds (dashboards/, config/alerts/).
    """
    try:
        from exporters.grafana.build import write
        from exporters.grafana.mixin import DEFAULT, MixinConfig
    except ImportError:
        console.print(f"error: {SDK_MISSING}", markup=False, highlight=False)
        sys.exit(EXIT_CONFIG)
    try:
        config = MixinConfig(job=job or DEFAULT.job, basemap_url=basemap_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if out_dir is None and config != DEFAULT:
        raise click.UsageError(
            "--job and --basemap-url need --out DIR: the repository's dashboards/ and config/alerts/ keep the "
            "defaults (point Prometheus and Grafana at DIR instead)"
        )
    target = out_dir if out_dir is not None else COMMITTED
    written = write(target, config, rules=out_dir is not None)
    for path in written:
        out.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"{len(written)} files in {target} (job {config.job})", markup=False, highlight=False, soft_wrap=True)


@dashboards.command()
@click.option("--grafana", "url", required=True, metavar="URL", help="Grafana's base URL, e.g. http://127.0.0.1:3000.")
@click.option(
    "--token",
    "token_ref",
    required=True,
    metavar="REF",
    help="A Grafana service account token, as a reference: ${ENV_VAR} or file:PATH (never the token itself).",
)
@click.option("--folder", default="Stadtnetz", show_default=True, help="The title of the folder (uid stadtnetz).")
@click.option(
    "--dir",
    "folder_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=COMMITTED,
    help="Where the dashboard JSON files are [default: the repository's dashboards/].",
)
def upload(url: str, token_ref: str, folder: str, folder_path: Path) -> None:
    """Put every dashboard into Grafana's folder over its HTTP API (replacing the ones of the same uid).

    Two documented calls: POST /api/folders, then POST /api/dashboards/db per dashboard, with the token as
    a Bearer token.
    """
    from exporters.grafana.upload import Grafana, GrafanaError, read_dashboards
    from exporters.grafana.upload import upload as send
    from stadtnetz.secrets import SecretError, resolve

    try:
        token = resolve(token_ref)
    except SecretError as exc:
        console.print(f"error: --token: {exc}", markup=False, highlight=False)
        sys.exit(EXIT_CONFIG)
    try:
        grafana = Grafana(url, token)
        uploaded = send(grafana, read_dashboards(folder_path), folder)
    except GrafanaError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_RUNTIME)
    for item in uploaded:
        out.print(f"uploaded {item.uid}  {item.title}  version {item.version}  {item.url}", markup=False,
                  highlight=False)
    out.print(f"{len(uploaded)} dashboards in folder {folder!r} of {grafana.url}", markup=False, highlight=False)
