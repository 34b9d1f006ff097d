"""Enqueueing engine work. Jobs are named by dotted path so the engine never
imports ``workers``; ids are deterministic so the same work is never queued
twice (a push already waiting for an issue absorbs a second request)."""

from __future__ import annotations

from flask import current_app

PUSH_JOB = "workers.jobs.push_issue_job"
POLL_JOB = "workers.jobs.poll_integration_job"
CRM_POLL_JOB = "workers.jobs.poll_crm_job"


def push_job_id(link_id: int) -> str:
    return f"push-{link_id}"


def enqueue_push(link_id: int) -> bool:
    """Queue the push of one sync link; False if one is already waiting."""
    queue = current_app.task_queue
    _, created = queue.enqueue_unique(
        PUSH_JOB,
        link_id,
        job_id=push_job_id(link_id),
        retry_intervals=current_app.config["CROSSWALK_RETRY_INTERVALS"],
    )
    return created


def enqueue_poll(integration_id: int) -> bool:
    _, created = current_app.task_queue.enqueue_unique(
        POLL_JOB, integration_id, job_id=f"poll-{integration_id}"
    )
    return created


def enqueue_categories(integration_id: int) -> bool:
    _, created = current_app.task_queue.enqueue_unique(
        "workers.jobs.sync_categories_job", integration_id, job_id=f"categories-{integration_id}"
    )
    return created


def enqueue_import(integration_id: int) -> bool:
    _, created = current_app.task_queue.enqueue_unique(
        "workers.jobs.import_requests_job", integration_id, job_id=f"import-{integration_id}"
    )
    return created


def enqueue_crm_poll() -> bool:
    _, created = current_app.task_queue.enqueue_unique(CRM_POLL_JOB, job_id="crm-poll")
    return created
