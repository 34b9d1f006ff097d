"""Writes a validated configuration into the database, idempotently.

Loading the same file twice leaves the same state. Integrations and
categories that disappear from the file are disabled, never deleted, so
links and history survive; protected categories are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..agency_config import AgencyConfig
from ..extensions import db
from ..models import Agency, Category, Integration, Rule
from . import events


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.disabled)

    def summary(self) -> str:
        if not self.changed:
            return "configuration unchanged"
        parts = []
        for label, items in (
            ("created", self.created),
            ("updated", self.updated),
            ("disabled", self.disabled),
        ):
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        return "; ".join(parts)


def _assign(row, values: dict, report: ApplyReport, label: str, *, new: bool) -> None:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    if changed and not new:
        report.updated.append(label)


def apply_config(config: AgencyConfig) -> ApplyReport:
    """Make the database match ``config`` in one transaction."""
    report = ApplyReport()
    try:
        _apply_agency(config, report)
        seen = {_apply_integration(settings, report) for settings in config.integrations}
        for row in db.session.execute(db.select(Integration)).scalars():
            if row.id not in seen and row.enabled:
                row.enabled = False
                report.disabled.append(f"integration {row.name}")
        if report.changed:
            events.record("config_loaded", f"{config.source_path}: {report.summary()}")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def _apply_agency(config: AgencyConfig, report: ApplyReport) -> None:
    row = db.session.execute(db.select(Agency).order_by(Agency.id)).scalars().first()
    new = row is None
    if new:
        row = Agency()
        db.session.add(row)
        report.created.append("agency")
    _assign(
        row,
        {
            "name": config.agency.name,
            "integration_user": config.agency.integration_user,
            "boundary_path": str(config.boundary_path) if config.boundary_path else None,
            "crm": config.crm.model_dump(mode="json"),
            "geocoder": config.geocoder.model_dump(mode="json"),
            "config_source": str(config.source_path) if config.source_path else None,
        },
        report,
        "agency",
        new=new,
    )


def _apply_rules(integration_id: int, settings, report: ApplyReport) -> None:
    """Rules from the file, by position; ones removed from the file are disabled
    (their fire-once history stays with them)."""
    existing = {
        r.position: r
        for r in db.session.execute(
            db.select(Rule).where(Rule.integration_id == integration_id, Rule.configured)
        ).scalars()
    }
    for position, rule in enumerate(settings.rules):
        row = existing.pop(position, None)
        label = f"rule {settings.name}#{position + 1}"
        new = row is None
        if new:
            row = Rule(integration_id=integration_id, position=position, configured=True)
            db.session.add(row)
            report.created.append(label)
        dumped = rule.model_dump(mode="json", by_alias=True)
        _assign(
            row,
            {
                "field": dumped["field"],
                "op": dumped["op"],
                "value": dumped["value"],
                "from_value": dumped["from"],
                "message": dumped["message"],
                "categories": dumped["categories"],
                "enabled": True,
            },
            report,
            label,
            new=new,
        )
    for row in existing.values():
        if row.enabled:
            row.enabled = False
            report.disabled.append(f"rule {settings.name}#{row.position + 1}")


def _apply_integration(settings, report: ApplyReport) -> int:
    row = db.session.execute(
        db.select(Integration).where(Integration.name == settings.name)
    ).scalar_one_or_none()
    new = row is None
    if new:
        row = Integration(name=settings.name)
        db.session.add(row)
        report.created.append(f"integration {settings.name}")
    _assign(
        row,
        {
            "kind": settings.kind,
            "enabled": settings.enabled,
            "settings": settings.model_dump(mode="json", exclude={"categories", "rules"}),
        },
        report,
        f"integration {settings.name}",
        new=new,
    )
    db.session.flush()

    existing = {
        c.remote_id: c
        for c in db.session.execute(
            db.select(Category).where(Category.integration_id == row.id)
        ).scalars()
    }
    declared = set()
    for cat in settings.categories:
        declared.add(cat.remote_id)
        category = existing.get(cat.remote_id)
        label = f"category {settings.name}/{cat.remote_id}"
        is_new = category is None
        if is_new:
            category = Category(integration_id=row.id, remote_id=cat.remote_id)
            db.session.add(category)
            report.created.append(label)
        values = {
            "crm_request_type_id": cat.crm_request_type_id,
            "acknowledgment_message": cat.acknowledgment_message,
            "closing_message": cat.closing_message,
            "internal": cat.internal,
            "private": cat.private,
            "custom_fields": cat.model_dump(mode="json", by_alias=True)["custom_fields"],
            "configured": True,
        }
        if cat.protected is not None:
            values["protected"] = cat.protected
        if not values.get("protected", category.protected):
            values["name"] = cat.name or category.name or cat.remote_id
            values["enabled"] = True
        _assign(category, values, report, label, new=is_new)
    _apply_rules(row.id, settings, report)
    for remote_id, category in existing.items():
        if (
            remote_id not in declared
            and category.configured
            and category.enabled
            and not category.protected
        ):
            category.enabled = False
            report.disabled.append(f"category {settings.name}/{remote_id}")
    return row.id
