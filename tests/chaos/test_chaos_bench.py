"""The chaos bench's own parts (bench/chaos.py), checked without a chaos run:
its counting (what the short run's assertions rest on), its agency file,
its options and the process plumbing it kills with."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml

from bench.chaos import (
    MARKER,
    ChaosOptions,
    acknowledgment_messages,
    agency_config,
    descendants,
    marked_processes,
    parse_args,
    proc_stat,
    sigkill,
    tally,
)
from simulators.cartegraph_store import REQUESTS_CLASS
from webapp.agency_config import parse_agency_config


def test_tally_counts_duplicates_losses_acknowledgments_and_requesters(sim):
    sims = sim.sims
    ids = [
        sim.create_issue(reporter={"name": f"R{i}", "email": f"r{i}@example.org"})["id"]
        for i in range(4)
    ]
    cg, scf = sims.cartegraph_state, sims.seeclickfix_state
    for issue_id in (ids[0], ids[1], ids[1], ids[2]):
        cg.create(REQUESTS_CLASS, [{"IssueField": "Pothole", "SeeClickFixIDField": str(issue_id)}])
    cg.create(
        cg.requesters_class,
        [
            {"EmailField": "r0@example.org"},
            {"EmailField": "r0@example.org"},
            {"EmailField": "r1@x"},
        ],
    )
    scf.transition(ids[0], "acknowledge", "Received.")
    scf.transition(ids[1], "acknowledge", "Received.")
    scf.transition(ids[1], "acknowledge", "Received. ")  # the same words, twice
    scf.add_comment(ids[2], "Received.", scf.official)  # said, but the issue is still Open

    result = tally(sims, ids, {"Received."})

    assert result.remote_records == 4
    assert (result.duplicates, result.duplicated_issues) == (1, [ids[1]])
    assert result.no_remote == [ids[3]]
    assert result.not_acknowledged == [ids[2], ids[3]]
    assert result.lost == 2 and not result.settled
    assert (result.duplicate_acks, result.double_acked_issues) == (1, [ids[1]])
    assert (result.requesters, result.duplicate_requesters) == (3, 1)


def test_the_agency_file_is_valid_and_points_cartegraph_at_the_proxy(sim, tmp_path):
    config = agency_config(sim.sims, "http://127.0.0.1:9999", ChaosOptions.short())
    loaded = parse_agency_config(yaml.safe_dump(config), base_dir=tmp_path)
    [integration] = loaded.integrations
    assert integration.endpoint.startswith("http://127.0.0.1:9999/")
    assert integration.timeout == 3
    assert acknowledgment_messages(config) == {
        "Your request has been received by Public Works.",
        "A crew will inspect this pothole.",
    }


def test_options():
    options = parse_args(["--short", "--issues", "60", "--late-apply", "3-5", "--env", "X=1"])
    assert (options.issues, options.workers, options.duration) == (60, 2, 20.0)
    assert options.late_apply == (3.0, 5.0)
    assert options.engine_env["X"] == "1"
    assert options.engine_env["CROSSWALK_SWEEP_AFTER"] == "10"  # the short run's, kept
    assert parse_args([]).issues == 500


@pytest.mark.parametrize(
    "argv",
    [
        ["--late-apply", "9-3"],
        ["--issues", "0"],
        ["--fault-rate", "1.5"],
        ["--env", "NOEQUALS"],
        ["--database-url", "postgresql://db.example.org/scratch"],
    ],
)
def test_options_refused(argv, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "error" in capsys.readouterr().err


def test_process_plumbing_finds_and_kills_a_marked_tree():
    token = f"test-{os.getpid()}"
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run(['sleep', '30'])"],
        env={**os.environ, MARKER: token},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not descendants(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        [child] = descendants(parent.pid)
        assert proc_stat(child)[0] == parent.pid
        assert sorted(marked_processes(token)) == sorted([parent.pid, child])
    finally:
        sigkill(marked_processes(token))
        parent.wait(timeout=10)
    deadline = time.monotonic() + 10  # SIGKILL is delivered, not awaited
    while marked_processes(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked_processes(token) == []
    assert proc_stat(os.getpid()) == (os.getppid(), os.getpgrp())
