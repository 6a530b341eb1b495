"""Secrets (SNMP communities, passwords, tokens) that never show up in logs, errors or metrics.

Owns how a secret is referenced in configuration and held in memory:
``${ENV_VAR}`` reads an environment variable, ``file:/path`` reads a file
(trailing newline stripped). A :class:`Secret` prints as ``***``; only
:meth:`Secret.reveal` gives the value, at the one place that sends it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
FILE_PREFIX = "file:"


class SecretError(ValueError):
    """A secret reference that cannot be resolved; the message never contains the secret."""


class Secret:
    """A resolved secret; ``str()`` and ``repr()`` are masked."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str = "literal") -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        return self._value

    @property
    def source(self) -> str:
        """Where it came from (``env:NAME`` or ``file:PATH``), safe to show."""
        return self._source

    def __repr__(self) -> str:
        return f"Secret({self._source}, ***)"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple:
        raise TypeError("secrets are not pickled")


def is_reference(text: str) -> bool:
    return bool(ENV_REFERENCE.match(text)) or text.startswith(FILE_PREFIX)


def resolve(reference: str, base_dir: Path | None = None, environ: dict[str, str] | None = None) -> Secret:
    """Resolve ``${NAME}`` or ``file:PATH`` (relative to ``base_dir``) into a :class:`Secret`."""
    env = os.environ if environ is None else environ
    match = ENV_REFERENCE.match(reference)
    if match:
        name = match.group(1)
        if name not in env:
            raise SecretError(f"environment variable {name} is not set")
        return Secret(env[name], f"env:{name}")
    if reference.startswith(FILE_PREFIX):
        path = Path(reference[len(FILE_PREFIX) :]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretError(f"cannot read secret file {path}: {exc.strerror}") from None
        return Secret(value, f"file:{path}")
    raise SecretError("a secret must be a reference: ${ENV_VAR} or file:/path/to/file, not the value itself")
