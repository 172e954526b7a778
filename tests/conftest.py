"""Shared fixtures: the example deployment's config, and the local-platform desk harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpforce.adapters.local.testing import DeskHarness
from helpforce.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config"


@pytest.fixture(scope="session")
def example_config() -> Config:
    return load_config(EXAMPLE_CONFIG, env={})


@pytest.fixture
async def desk(example_config: Config, tmp_path: Path) -> AsyncIterator[DeskHarness]:
    async with DeskHarness(example_config, tmp_path / "helpforce.db") as harness:
        yield harness
