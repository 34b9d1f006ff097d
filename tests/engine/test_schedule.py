"""The periodic work as data: which tasks the configuration switches on and at
what intervals, clear errors for tasks that do not run, and "run now"
absorbed by a run already waiting. (When tasks are due: test_dispatcher.)"""

from __future__ import annotations

import pytest

from tests.engine.conftest import load_agency
from webapp.extensions import db
from webapp.models import Agency
from webapp.sync import schedule
from webapp.sync.schedule import TaskNotAvailable

BOUNDARY = {
    "  name: City of New Haven\n": (
        "  name: City of New Haven\n  boundary: ../boundaries/new_haven.geojson\n"
    )
}


def fake_settings(*lines: str) -> dict[str, str]:
    """A ``load_agency`` replacement adding keys to the fake integration."""
    return {"    kind: fake\n": "    kind: fake\n" + "".join(f"    {line}\n" for line in lines)}


def tasks() -> dict[str, int]:
    return {t.key: t.interval for t in schedule.periodic_tasks()}


def scheduled_ids(app) -> set[str]:
    return {
        job_id
        for queue in app.task_queue.all_queues
        for job_id in queue.scheduled_job_registry.get_job_ids()
    }


# ------------------------------------------------------------ what is scheduled
def test_the_fixture_agency_runs_the_sweeper_the_polls_and_the_category_sync(app):
    assert tasks() == {
        "sweep": 60,
        "crm-poll": 60,
        "remote-poll-public-works": 300,
        "categories-public-works": 86400,
    }


def test_category_sync_is_scheduled_only_when_switched_on(app):
    load_agency(**fake_settings("sync_categories: false"))
    assert "categories-public-works" not in tasks()


@pytest.mark.parametrize(
    ("boundary", "switch", "scheduled"),
    [(True, "true", True), (True, "false", False), (False, "true", False)],
    ids=["boundary-and-on", "boundary-but-off", "on-without-boundary"],
)
def test_the_importer_is_scheduled_only_with_a_boundary_and_import_requests_on(
    app, boundary, switch, scheduled
):
    load_agency(**fake_settings(f"import_requests: {switch}"), **(BOUNDARY if boundary else {}))
    assert ("import-public-works" in tasks()) is scheduled


def test_intervals_come_from_the_validated_settings(app):
    load_agency(
        **fake_settings("poll_interval: 45", "category_sync_interval: 600", "import_interval: 120"),
        **BOUNDARY,
        **{"  poll_interval: 60\n": "  poll_interval: 90\n"},
    )
    assert tasks() == {
        "sweep": schedule.SWEEP_INTERVAL,
        "crm-poll": 90,
        "remote-poll-public-works": 45,
        "categories-public-works": 600,
        "import-public-works": 120,
    }


def test_a_disabled_integration_has_no_tasks(app):
    load_agency(**fake_settings("enabled: false"))
    assert set(tasks()) == {"sweep", "crm-poll"}


def test_without_an_agency_only_the_sweeper_runs(app):
    db.session.execute(db.delete(Agency))
    db.session.commit()
    assert set(tasks()) == {"sweep"}


# -------------------------------------------------------------------- find_tasks
def test_find_tasks_gives_the_named_integrations_task(app):
    [task] = schedule.find_tasks("remote-poll", "public-works")
    assert (task.key, task.integration_name, task.interval) == (
        "remote-poll-public-works",
        "public-works",
        300,
    )
    assert task.label == "public-works: remote poll"
    assert [t.key for t in schedule.find_tasks("crm-poll")] == ["crm-poll"]


@pytest.mark.parametrize(
    ("kind", "integration", "replacements", "message"),
    [
        ("nightly", None, {}, r"unknown task 'nightly' \(known: sweep, crm-poll, remote-poll"),
        ("remote-poll", "parks", {}, "no integration named 'parks'"),
        (
            "remote-poll",
            "public-works",
            fake_settings("enabled: false"),
            "public-works: the integration is disabled",
        ),
        (
            "categories",
            "public-works",
            fake_settings("sync_categories: false"),
            "public-works: category sync is off",
        ),
        ("import", "public-works", {}, "public-works: import_requests is off"),
    ],
    ids=["unknown-kind", "unknown-integration", "disabled", "categories-off", "import-off"],
)
def test_find_tasks_names_the_problem(app, kind, integration, replacements, message):
    if replacements:
        load_agency(**replacements)
    with pytest.raises(TaskNotAvailable, match=message):
        schedule.find_tasks(kind, integration)


# ------------------------------------------------------------------------ runs
def test_run_now_twice_while_one_waits_queues_one_run(app):
    assert schedule.run_task_now("crm-poll") is True
    assert schedule.run_task_now("crm-poll") is False
    assert app.task_queue.queues["periodic"].job_ids == ["task-crm-poll"]
    assert app.task_queue.queues["default"].count == 0


def test_run_task_runs_the_task_and_returns_its_summary(app, remote):
    assert schedule.run_task("remote-poll-public-works") == (
        "polled 0 in 0 batch(es), closed 0, failed 0"
    )
    schedule.run_task("categories-public-works")
    assert remote.count("fetch_categories") == 1


def test_run_task_on_a_key_no_longer_configured_says_so(app):
    load_agency(**fake_settings("sync_categories: false"))
    assert schedule.run_task("categories-public-works") == (
        "categories-public-works: no longer configured"
    )
    assert app.task_queue.depth() == 0


def test_naming_an_integration_for_an_agency_wide_task_finds_that_task(app):
    # `crosswalk sync crm --integration public-works`: the CRM poll serves them all.
    assert [t.key for t in schedule.find_tasks("crm-poll", "public-works")] == ["crm-poll"]


def test_two_runs_of_one_task_never_overlap(app):
    from webapp.sync import leases

    assert leases.take(schedule.lease_name("crm-poll"), "a run on another worker", 60)
    assert schedule.run_task("crm-poll") == "crm-poll: already running on another worker"
    leases.release(schedule.lease_name("crm-poll"), "a run on another worker")
    assert schedule.run_task("crm-poll").startswith("0 seen")
    assert leases.is_free(schedule.lease_name("crm-poll"))  # released after the run
