"""The web process without REDIS_URL (``wsgi.py``, a small install) runs its
own worker and scheduler threads; with Redis it leaves the work to
``crosswalk worker`` processes."""

from __future__ import annotations

import time

from rq.job import Job

from tests.conftest import make_app
from webapp.sync import schedule
from workers.in_process import start_if_in_process


def test_without_redis_the_web_process_works_its_own_queue(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'web.db'}", None)
    worker = start_if_in_process(app)
    try:
        assert worker is not None
        assert all(thread.is_alive() for thread in worker.threads)
        with app.app_context():
            assert schedule.run_task_now("sweep") is True
        job = Job.fetch("task-sweep", connection=app.task_queue.connection)
        deadline = time.monotonic() + 10
        while job.get_status() != "finished" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job.get_status() == "finished"
        assert job.return_value() == "requeued 0"
    finally:
        if worker is not None:
            worker.stop(timeout=0.1)  # daemon threads: no need to wait them out


def test_the_in_process_worker_can_be_switched_off(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'web.db'}", None, CROSSWALK_INPROCESS_WORKER=False)
    assert start_if_in_process(app) is None


def test_with_redis_the_web_process_runs_no_worker(tmp_path, redis_url):
    app = make_app(f"sqlite:///{tmp_path / 'web.db'}", redis_url)
    assert start_if_in_process(app) is None
