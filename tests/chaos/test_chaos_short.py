"""The short chaos run (bench/chaos.py --short) as a test: Crosswalk as an
agency runs it — PostgreSQL, Redis, two `crosswalk worker` processes — while
workers and work horses are SIGKILLed, ~30% of Cartegraph calls fail in the
fault proxy and Redis is flushed once. Only counts are asserted; the time
bounds are the bench's own (20 s of faults, 30 s to drain)."""

from __future__ import annotations

import pytest

from bench.chaos import ChaosOptions, ChaosReport, ids, print_report, quiet_logging, run

pytestmark = [pytest.mark.chaos, pytest.mark.postgres, pytest.mark.redis]


def problems_of(report: ChaosReport) -> list[str]:
    """Every broken promise at once, so one failing run shows them all."""
    t = report.tally
    problems = []
    if t.duplicates:
        problems.append(f"{t.duplicates} duplicate remote records{ids(t.duplicated_issues)}")
    if t.lost:
        problems.append(
            f"{t.lost} lost issues (no remote record {len(t.no_remote)}{ids(t.no_remote)}, "
            f"not acknowledged {len(t.not_acknowledged)}{ids(t.not_acknowledged)})"
        )
    if t.duplicate_acks:
        problems.append(f"{t.duplicate_acks} duplicate acknowledgments{ids(t.double_acked_issues)}")
    if not report.drained:
        problems.append(f"not drained within {report.options.drain_timeout:g} s")
    return problems


def chaos_happened(report: ChaosReport) -> list[str]:
    """The run must have been a chaos run, or its zeros prove nothing."""
    during = report.chaos.calls_during_faults
    faulted = sum(v for k, v in during.items() if k not in ("passed", "upstream_failed"))
    missing = []
    if report.tally.issues != report.options.issues or report.report_errors:
        missing.append(f"only {report.tally.issues} issues reported: {report.report_errors[:3]}")
    if not faulted:
        missing.append("no Cartegraph call was faulted")
    if not report.chaos.worker_kills + report.chaos.horse_kills:
        missing.append("nothing was killed")
    if report.chaos.flushed_at is None:
        missing.append("Redis was not flushed")
    return missing


@pytest.mark.timeout(240)
def test_short_chaos_run_loses_and_doubles_nothing() -> None:
    quiet_logging()
    report = run(ChaosOptions.short())
    print_report(report)  # shown with the failure, or with -s
    if missing := chaos_happened(report):
        pytest.fail("not a chaos run: " + "; ".join(missing), pytrace=False)
    if problems := problems_of(report):
        pytest.fail("; ".join(problems), pytrace=False)
