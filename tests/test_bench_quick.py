"""Every benchmark runs: ``bench/*.py --quick`` in a subprocess ends with a well-formed ``RESULT`` line.

The smoke test that keeps benchmarks from rotting unnoticed. It is parametrised over the files in
``bench/`` by glob, so a new benchmark is covered without touching this file. Options that take another path
through a benchmark (``snmp_poll.py --v3``) get a quick run of their own. Nothing about speed is
asserted: a quick run's figures mean nothing; only that the same code path still works end to end
(real simulator, snmpd, snmp_exporter, fping, VictoriaMetrics, peers) and reports its result.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted((REPO / "bench").glob("*.py"))
PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)")


def result_pairs(stdout: str) -> dict[str, float]:
    """The key=value pairs of the last non-empty stdout line, which must start with ``RESULT ``."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "the benchmark printed nothing on stdout"
    last = lines[-1]
    assert last.startswith("RESULT "), f"the last line is not a RESULT line: {last!r}"
    fields = last.removeprefix("RESULT ").split()
    pairs = [PAIR.fullmatch(field) for field in fields]
    assert fields and all(pairs), f"not key=value pairs: {last!r}"
    values = {}
    for match in pairs:
        assert match is not None
        try:
            values[match[1]] = float(match[2])
        except ValueError:
            pytest.fail(f"{match[1]}={match[2]} is not a number in {last!r}")
        assert math.isfinite(values[match[1]]), f"{match[1]}={match[2]} is not a finite number in {last!r}"
    return values


def test_every_benchmark_is_found():
    names = {path.stem for path in BENCHMARKS}
    assert {"capacity", "influx_write", "snmp_poll", "ping_sweep", "history_write"} <= names, names


def quick_run(script: Path, tmp_path: Path, *options: str) -> dict[str, float]:
    """Run ``script --quick [options]``; it must exit 0 and end with a RESULT line, whose pairs are returned."""
    completed = subprocess.run(
        [sys.executable, str(script), "--quick", *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "160"},
    )
    said = f"stdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr[-3000:]}"
    assert completed.returncode == 0, said
    pairs = result_pairs(completed.stdout)
    assert pairs, said
    return pairs


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.stem)
def test_quick_run_prints_its_result(script, tmp_path):
    quick_run(script, tmp_path)


def test_snmp_poll_v3_quick_run_compares_all_three_pollers(tmp_path):
    """``--v3``: the same IF-MIB poll with SNMPv3 authPriv SHA-256/AES-128 by ours, pysnmp and snmp_exporter."""
    pairs = quick_run(REPO / "bench" / "snmp_poll.py", tmp_path, "--v3")
    assert set(pairs) == {"v3_cpu_ratio_vs_snmp_exporter", "vs_pysnmp"}, pairs
    assert all(value > 0 for value in pairs.values()), pairs
