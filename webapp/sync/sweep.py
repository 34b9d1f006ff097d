"""The sweeper: the safety net under the dispatcher. Owed work the database
has not recorded as due (a push that finished while a comment arrived, rows
from before owed work was recorded) is recorded and queued, with a warning,
so no issue waits forever without anyone noticing. Work recorded as due —
lost jobs, dead workers, retries — is the dispatcher's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..extensions import db
from ..models import Integration, utcnow
from . import events, lifecycle, vendors
from .push_job import enqueue_push


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
    lifecycle.record_owed([work.link_id for work in owed])
    for work in owed:
        if enqueue_push(work.link_id):
            report.requeued += 1
            events.record(
                "requeued",
                f"{work.why} was owed but not scheduled; queued now",
                issue_id=work.issue_id,
                integration_id=work.integration_id,
                level="warning",
            )
    db.session.commit()
    return report
