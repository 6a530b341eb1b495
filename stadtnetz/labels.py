"""A series' own labels, structured: the (name, value) pairs every producer and consumer of series shares.

Owns :class:`Labels`, the form labels take in readings and in the state: an
ordered tuple of ``(name, value)`` pairs with the values as the device told
them (unescaped). Each destination escapes them for its own format:
``/metrics`` and the history file's ``labels`` column use :attr:`Labels.text`
(the Prometheus text-format fragment, rendered once per object and kept),
InfluxDB line protocol escapes :attr:`Labels.pairs` with its own rules. Nobody
parses a rendered fragment back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from sys import intern


def escape_label(text: str) -> str:
    """Escape a label value for the Prometheus text format (backslash, double quote, newline)."""
    if "\\" in text or '"' in text or "\n" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


MAX_KNOWN = 2_000_000  # distinct label sets kept for reuse (a city of 10,000 devices has about 400,000)


class Labels:
    """Ordered, immutable (name, value) pairs; equal and hashed by their pairs.

    ``text`` is the Prometheus fragment with a leading comma (``,if_index="1",interface="eth0"``,
    empty for no labels), rendered once: a cache, not the source of truth. Memory matters (the
    state holds one per distinct series): names and values are kept in one flat tuple of
    interned strings, so the values many devices share (``eth0``, ``up``) are stored once, and
    equal label sets are one object (``Labels(pairs)`` returns the one already made), so a poll
    neither renders nor stores again what an earlier poll or another device already has.
    """

    __slots__ = ("_flat", "text")

    _flat: tuple[str, ...]
    text: str

    def __new__(cls, pairs: Iterable[tuple[str, str]] = ()) -> Labels:
        flat = tuple(part for pair in pairs for part in pair)
        known = _KNOWN.get(flat)
        if known is not None:  # every device's poll makes the same labels again: one object for them all
            return known
        self = super().__new__(cls)
        self._flat = tuple(intern(part) for part in flat)
        self.text = "".join(f',{flat[i]}="{escape_label(flat[i + 1])}"' for i in range(0, len(flat), 2))
        if len(_KNOWN) >= MAX_KNOWN:  # labels that keep changing must not grow the table forever
            _KNOWN.clear()
        _KNOWN[self._flat] = self
        return self

    @classmethod
    def of(cls, **labels: str) -> Labels:
        """``Labels.of(if_index="1", interface="eth0")``, in the order given."""
        return cls(labels.items())

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        flat = self._flat
        return tuple(zip(flat[::2], flat[1::2], strict=True))

    def get(self, name: str, default: str | None = None) -> str | None:
        flat = self._flat
        for i in range(0, len(flat), 2):
            if flat[i] == name:
                return flat[i + 1]
        return default

    def matches(self, selector: Iterable[tuple[str, str]]) -> bool:
        """Does every (name, value) of ``selector`` appear among these labels?"""
        pairs = self.pairs
        return all(pair in pairs for pair in selector)

    def plus(self, name: str, value: str) -> Labels:
        """These labels with ``name=value`` appended."""
        return Labels((*self.pairs, (name, value)))

    def replaced(self, name: str, value: str) -> Labels:
        """These labels with the value of ``name`` (which must be present) set to ``value``, in place."""
        return Labels((key, value if key == name else old) for key, old in self.pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self._flat) // 2

    def __bool__(self) -> bool:
        return bool(self._flat)

    def __hash__(self) -> int:
        return hash(self._flat)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Labels):
            return NotImplemented
        return self._flat == other._flat

    def __reduce__(self) -> tuple[type[Labels], tuple[tuple[tuple[str, str], ...]]]:
        return (Labels, (self.pairs,))  # copies and pickles go through __new__, which shares equal objects

    def __repr__(self) -> str:
        return f"Labels({self.pairs!r})"


_KNOWN: dict[tuple[str, ...], Labels] = {}
NO_LABELS = Labels()
