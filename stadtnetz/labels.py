"""Label values as the Prometheus text format needs them: the one escaping rule every producer of series uses."""

from __future__ import annotations


def escape_label(text: str) -> str:
    """Escape a label value for the Prometheus text format (backslash, double quote, newline)."""
    if "\\" in text or '"' in text or "\n" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text
