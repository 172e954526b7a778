"""Packaging: every package directory is listed, mapped names import, nothing generic leaks."""

from __future__ import annotations

import importlib
import importlib.metadata
import tomllib

from conftest import ROOT

MAPPED = {"helpforce": "helpforce", "helpforce.adapters": "adapters",
          "helpforce.policies": "policies", "helpforce.example_config": "config"}


def _declared() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(data["tool"]["setuptools"]["packages"])


def _on_disk() -> set[str]:
    found = set()
    for package, directory in MAPPED.items():
        base = ROOT / directory
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([package, *rel.parts]) if rel.parts else package)
    return found


def test_every_package_directory_is_declared() -> None:
    # a subpackage missing from the list imports in editable mode but is absent from the wheel
    assert _on_disk() == _declared()


def test_mapped_packages_import_under_the_helpforce_namespace() -> None:
    for name in _declared():
        module = importlib.import_module(name)
        assert module.__name__ == name


def test_local_adapter_is_an_entry_point() -> None:
    eps = importlib.metadata.entry_points(group="helpforce.adapters")
    assert "local" in {ep.name for ep in eps}


def test_example_config_is_package_data() -> None:
    import importlib.resources

    files = importlib.resources.files("helpforce.example_config")
    for name in ("helpforce.yaml", "roster.yaml", "policies.yaml"):
        assert files.joinpath(name).is_file(), name


def test_extras_declared() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = data["project"]["optional-dependencies"]
    assert {"telegram", "discord", "x", "all", "test"} <= set(extras)
