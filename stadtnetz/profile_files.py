"""Where profiles live and what they are called: the built-in directory and the names found in profile directories.

Owns only the file layout (a profile's name is its file name without ``.yaml``), so the configuration can check
profile names without loading the SNMP collector; :mod:`collectors.snmp.profiles` reads the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

BUILTIN_PROFILE_DIR = Path(__file__).resolve().parents[1] / "config" / "profiles"


def profile_names(extra_dirs: Sequence[Path] = ()) -> set[str]:
    """Names of the available profiles (a profile's name is its file name without .yaml)."""
    names: set[str] = set()
    for directory in (BUILTIN_PROFILE_DIR, *extra_dirs):
        if directory.is_dir():
            names.update(path.stem for path in directory.glob("*.yaml"))
    return names
