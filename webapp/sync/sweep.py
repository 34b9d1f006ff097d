"""The sweeper: re-enqueue work left owed (a lost Redis, a crashed worker, a
failed comment), so no issue waits forever without anyone noticing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..extensions import db
from ..models import Integration, utcnow
from . import events, lifecycle, vendors
from .push import enqueue_push


@dataclass
class SweepReport:
    requeued: int = 0

    def summary(self) -> str:
        return f"requeued {self.requeued}"


def _closing_integrations() -> list[int]:
    """Integrations that carry a CRM close to the remote request."""
    rows = db.session.execute(db.select(Integration).where(Integration.enabled.is_(True)))
    return [row.id for row in rows.scalars() if vendors.settings_of(row).close_remote_on_crm_close]


def sweep_pending(older_than: timedelta) -> SweepReport:
    """Enqueue every link whose work has waited ``older_than`` with no job waiting."""
    report = SweepReport()
    owed = lifecycle.work_left_since(utcnow() - older_than, _closing_integrations())
    for work in owed:
        if enqueue_push(work.link_id):
            report.requeued += 1
            events.record(
                "requeued",
                f"{work.why} had no job waiting; queued again",
                issue_id=work.issue_id,
                integration_id=work.integration_id,
                level="warning",
            )
    db.session.commit()
    return report
