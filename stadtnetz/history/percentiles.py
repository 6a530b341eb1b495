"""Utilisation percentiles: exact per hour, and over any window from the hours' merged histograms.

**Utilisation** (``stadtnetz_interface_utilisation_ratio``): its hourly rollups
also get ``p95``, the exact 95th percentile of the hour's samples (linear
interpolation between closest ranks, as numpy's default), and ``histogram``:
the hour's samples counted in bins 0.5 percentage points wide (0 .. 150 %,
packed as uint16 pairs bin, count). The p95 over any window (30 days, a year)
is computed from the merged histograms of its hours, so it is the p95 of *all*
the window's samples to within one bin (0.5 pp; every order statistic is known
to its bin, see :func:`histogram_quantile`), not an average or percentile of
hourly p95s (which misreads a link that is busy a few hours every evening:
the percentile of hourly p95s answers "how busy are the busy hours", not the
window's p95). Cost: a few dozen bytes per link and hour. Hours written by
schema 1 (no histogram) count as ``count`` samples at their hourly p95.

:func:`_merge_histograms` and :func:`_merged_p95` are the SQL functions
``history_merge`` and ``history_merged_p95`` the store registers, so that a
later run adding to an hour merges into its row.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import chain

UTILISATION_METRIC = "stadtnetz_interface_utilisation_ratio"
BIN_WIDTH = 0.005  # utilisation histogram bins: 0.5 percentage points
BINS = 300  # 0 .. 1.5: the state calls a rate above 1.5x the interface speed impossible
_PER_UNIT = 200  # bins per 1.0 of utilisation: 1 / BIN_WIDTH, exact (multiplying bins 0.3 into bin 60, not 59)
PERCENTILE = 0.95


def quantile(ordered: Sequence[float], q: float = PERCENTILE) -> float:
    """The ``q`` quantile of sorted values, interpolating linearly between closest ranks (numpy's default)."""
    if not ordered:
        return math.nan
    rank = q * (len(ordered) - 1)
    low = int(rank)
    if low + 1 >= len(ordered):
        return ordered[-1]
    return ordered[low] + (rank - low) * (ordered[low + 1] - ordered[low])


def bin_of(value: float) -> int:
    return 0 if value <= 0 else min(int(value * _PER_UNIT), BINS - 1)


def histogram_of(ordered: Sequence[float]) -> dict[int, int]:
    """Bin counts of sorted samples (the per-sample work in C: a comprehension and Counter)."""
    bins = [int(value * _PER_UNIT) for value in ordered]
    if bins and (bins[0] < 0 or bins[-1] >= BINS):
        bins = [min(max(index, 0), BINS - 1) for index in bins]
    return Counter(bins)


def pack_histogram(counts: Mapping[int, int]) -> bytes:
    """Bin counts as little-endian uint16 pairs (bin, count), bins ascending."""
    pairs = sorted(counts.items())
    if pairs and max(counts.values()) > 0xFFFF:  # more than 18 samples a second: split into several pairs
        pairs = [(i, min(c - k, 0xFFFF)) for i, c in pairs for k in range(0, c, 0xFFFF)]
    packed = array("H", chain.from_iterable(pairs))
    if sys.byteorder != "little":  # pragma: no cover
        packed.byteswap()
    return packed.tobytes()


def unpack_histogram(blob: bytes, into: dict[int, int] | None = None) -> dict[int, int]:
    counts = {} if into is None else into
    packed = array("H")
    packed.frombytes(blob)
    if sys.byteorder != "little":  # pragma: no cover
        packed.byteswap()
    for position in range(0, len(packed), 2):
        counts[packed[position]] = counts.get(packed[position], 0) + packed[position + 1]
    return counts


def histogram_quantile(counts: Mapping[int, int], q: float = PERCENTILE) -> float:
    """The ``q`` quantile of binned samples, by the same rule as :func:`quantile`.

    The k-th smallest sample is estimated inside its bin (a bin's samples taken
    as evenly spread in it), so it is off by less than one bin width; the
    quantile interpolates between two such estimates, so it too is within one
    bin width of the exact quantile of the samples, whatever the data.
    """
    total = sum(counts.values())
    if total == 0:
        return math.nan
    rank = q * (total - 1)
    low = int(rank)
    wanted = (low, min(low + 1, total - 1))
    found: list[float] = []
    seen = 0
    for index in sorted(counts):
        count = counts[index]
        while len(found) < 2 and wanted[len(found)] < seen + count:
            found.append((index + (wanted[len(found)] - seen + 0.5) / count) * BIN_WIDTH)
        if len(found) == 2:
            break
        seen += count
    return found[0] + (rank - low) * (found[1] - found[0])


def _merge_histograms(first: bytes | None, second: bytes | None) -> bytes | None:
    if first is None or second is None:
        return None
    return pack_histogram(unpack_histogram(second, unpack_histogram(first)))


def _merged_p95(first: bytes | None, second: bytes | None, p95_first: float | None, p95_second: float | None) -> float:
    if first is not None and second is not None:
        return histogram_quantile(unpack_histogram(second, unpack_histogram(first)))
    values = [v for v in (p95_first, p95_second) if v is not None]
    return max(values) if values else None  # type: ignore[return-value]
