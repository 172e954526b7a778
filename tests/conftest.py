"""Shared fixtures: the example deployment's config, and the local-platform desk harness."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpforce.adapters.local.testing import DeskHarness
from helpforce.config import Config, load_config
from helpforce.config.routing import RoutingSettings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config"


@pytest.fixture(scope="session")
def example_config() -> Config:
    return load_config(EXAMPLE_CONFIG, env={})


@pytest.fixture(scope="session")
def plain_config(example_config: Config) -> Config:
    """The example deployment with the default route only (no tags, SLAs or skills): the
    desk's mechanics, offered to everyone in turn."""
    return dataclasses.replace(example_config, routing=RoutingSettings())


@pytest.fixture
async def desk(plain_config: Config, tmp_path: Path) -> AsyncIterator[DeskHarness]:
    async with DeskHarness(plain_config, tmp_path / "helpforce.db") as harness:
        yield harness
