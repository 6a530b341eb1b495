"""A series' own labels, structured: the (name, value) pairs every producer and consumer of series shares.

Owns :class:`Labels`, the form labels take in readings and in the state: an
ordered tuple of ``(name, value)`` pairs with the values as the device told
them (unescaped). Each destination escapes them for its own format:
``/metrics`` and the history file's ``labels`` column use :attr:`Labels.text`
(the Prometheus text-format fragment, rendered once per object and cached),
InfluxDB line protocol escapes :attr:`Labels.pairs` with its own rules. Nobody
parses a rendered fragment back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def escape_label(text: str) -> str:
    """Escape a label value for the Prometheus text format (backslash, double quote, newline)."""
    if "\\" in text or '"' in text or "\n" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


class Labels:
    """Ordered, immutable (name, value) pairs; equal and hashed by their pairs.

    ``text`` is the Prometheus fragment with a leading comma (``,if_index="1",interface="eth0"``,
    empty for no labels), computed on first use and kept: a cache, not the source of truth.
    """

    __slots__ = ("_hash", "_text", "pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self.pairs: tuple[tuple[str, str], ...] = tuple(pairs)
        self._hash = hash(self.pairs)
        self._text: str | None = None

    @classmethod
    def of(cls, **labels: str) -> Labels:
        """``Labels.of(if_index="1", interface="eth0")``, in the order given."""
        return cls(labels.items())

    @property
    def text(self) -> str:
        text = self._text
        if text is None:
            text = self._text = "".join(f',{name}="{escape_label(value)}"' for name, value in self.pairs)
        return text

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.pairs:
            if key == name:
                return value
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
        return len(self.pairs)

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Labels):
            return NotImplemented
        return self._hash == other._hash and self.pairs == other.pairs

    def __repr__(self) -> str:
        return f"Labels({self.pairs!r})"


NO_LABELS = Labels()
