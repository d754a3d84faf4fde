"""Shared test setup: every run the tests record goes to a temporary run store, never the user's data directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def run_store_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``PLANNER_STORE`` at a session-wide temporary file (session scope: module fixtures that run
    ``planner solve`` are set up before any function-scoped fixture would be). Subprocesses inherit it."""
    path = tmp_path_factory.mktemp("run-store") / "runs.sqlite"
    before = os.environ.get("PLANNER_STORE")
    os.environ["PLANNER_STORE"] = str(path)
    yield path
    if before is None:
        os.environ.pop("PLANNER_STORE", None)
    else:
        os.environ["PLANNER_STORE"] = before


FROZEN_CATALOGUE = Path(__file__).resolve().parent / "data" / "catalogue_frozen.yaml"


@pytest.fixture
def frozen_catalogue(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Price with the frozen test catalogue (tests/data/catalogue_frozen.yaml) instead of the bundled one, for
    tests whose arithmetic is worked out by hand from its figures: a review of the bundled figures must not move
    them. In process only (subprocesses use the bundled catalogue)."""
    import planner.scenario

    monkeypatch.setattr(planner.scenario, "default_catalogue_path", lambda: FROZEN_CATALOGUE)
    return FROZEN_CATALOGUE
