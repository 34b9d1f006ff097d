"""The jobs page: every periodic task with Run now (never doubling a queued
run, audited), and RQ's queued and failed jobs with their error."""

from __future__ import annotations

from tests.support import run_jobs
from webapp.extensions import db
from webapp.models import AuditEntry
from webapp.sync import engine
from webapp.sync import jobs as job_kinds


def test_every_periodic_task_has_run_now(app, client):
    html = client.get("/jobs").get_data(as_text=True)
    for key in ("crm-poll", "sweep", "remote-poll-public-works", "categories-public-works"):
        assert f'data-task="{key}"' in html
        assert f'action="/jobs/{key}/run"' in html


def test_run_now_queues_once_then_shows_the_runs_summary(app, client):
    first = client.post("/jobs/categories-public-works/run", follow_redirects=True)
    assert "public-works: category sync: queued." in first.get_data(as_text=True)
    second = client.post("/jobs/categories-public-works/run", follow_redirects=True)
    assert "already queued or running; not queued twice" in second.get_data(as_text=True)
    assert app.task_queue.depth() == 1
    assert 'data-testid="task-state">queued<' in client.get("/jobs").get_data(as_text=True)

    run_jobs(app)

    html = client.get("/jobs").get_data(as_text=True)
    assert 'data-testid="task-state">finished<' in html
    assert 'data-testid="task-summary"' in html
    with app.app_context():
        entries = db.session.execute(
            db.select(AuditEntry).where(AuditEntry.action == "task.run_now")
        ).scalars()
        assert [(e.target, e.after) for e in entries] == [
            ("public-works: category sync", "queued"),
            ("public-works: category sync", "already queued or running"),
        ]


def test_an_unknown_task_is_404(client):
    assert client.post("/jobs/no-such-task/run").status_code == 404


def _explode() -> None:
    raise RuntimeError("the vendor said no")


def test_a_failed_job_is_listed_with_its_error(app, client, monkeypatch):
    kind = job_kinds.JobKind("explode", _explode, "explode", "a job that fails")
    monkeypatch.setitem(engine.JOB_KINDS, "explode", kind)
    with app.app_context():
        app.task_queue.enqueue(kind)
        run_jobs(app)

    html = client.get("/jobs").get_data(as_text=True)

    assert "a job that fails" in html
    assert "RuntimeError: the vendor said no" in html


def test_staff_may_run_now(app, staff_client):
    response = staff_client.post("/jobs/crm-poll/run")
    assert response.status_code == 302
