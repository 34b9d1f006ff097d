"""Fixtures for the simulator tests: one set of live simulators per session,
reset (and reseeded) before every test so tests stay independent and fast."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests

from simulators.launch import RunningSimulators, start_simulators

SCF_TOKEN = "test-token"
CG_AUTH = ("crosswalk", "demo-password")


@pytest.fixture(scope="session")
def running_sims() -> Iterator[RunningSimulators]:
    # werkzeug logs every request at INFO; keep failing-test output readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with start_simulators(scf_token=SCF_TOKEN) as sims:
        yield sims


@pytest.fixture
def sims(running_sims: RunningSimulators) -> RunningSimulators:
    running_sims.reset()
    return running_sims


@pytest.fixture
def scf(sims: RunningSimulators) -> Iterator[requests.Session]:
    """A session authenticated against the SeeClickFix simulator."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {SCF_TOKEN}"
        yield session


@pytest.fixture
def cg(sims: RunningSimulators) -> Iterator[requests.Session]:
    """A session using HTTP Basic against the Cartegraph simulator."""
    with requests.Session() as session:
        session.auth = CG_AUTH
        yield session
