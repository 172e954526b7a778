"""Where the configuration lives when none is named on the command line."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from helpforce.config.loader import SETTINGS_FILE


def default_config_dir() -> Path:
    """``./config`` if it holds a helpforce.yaml, else the embedded example deployment."""
    local = Path("config")
    if (local / SETTINGS_FILE).is_file():
        return local
    resource = files("helpforce.example_config")
    if not isinstance(resource, Path):
        # e.g. installed inside a zip file: the loader reads files by path
        raise RuntimeError(f"the embedded example config is not a directory ({resource})")
    return resource
