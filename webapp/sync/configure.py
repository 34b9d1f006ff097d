"""Writes a validated configuration into the database, idempotently.

Loading the same file twice leaves the same state. Integrations and
categories that disappear from the file are disabled, never deleted, so
links and history survive; protected categories are left alone.

Values an admin changed in the console (``console_edits``) are never
silently overwritten: each one the file disagrees with is kept and listed
in the report's ``differences``, unless the load is told to overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func

from ..agency_config import AgencyConfig
from ..agency_config.problems import format_path
from ..extensions import db
from ..models import Agency, Category, ConsoleEdit, Integration, Rule, utcnow
from . import audit, console_edits, events
from .console_edits import CATEGORY, INTEGRATION, RULE, Difference

# Rule row columns by the key the file (and the console) names them with.
RULE_COLUMNS = {
    "field": "field",
    "op": "op",
    "value": "value",
    "from": "from_value",
    "message": "message",
    "categories": "categories",
    "enabled": "enabled",
}
# Category keys the console edits (the row's column has the key's name).
CATEGORY_KEYS = (
    "crm_request_type_id",
    "acknowledgment_message",
    "closing_message",
    "internal",
    "private",
    "protected",
)


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    # Keys the file and the console disagree on (kept, or overwritten when asked).
    differences: list[Difference] = field(default_factory=list)
    # Console edits the file now says too: the file carries them from here on.
    now_in_file: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.disabled)

    @property
    def kept(self) -> list[Difference]:
        return [d for d in self.differences if not d.overwritten]

    def summary(self) -> str:
        parts = []
        for label, items in (
            ("created", self.created),
            ("updated", self.updated),
            ("disabled", self.disabled),
        ):
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        text = "; ".join(parts) if parts else "configuration unchanged"
        if kept := len(self.kept):
            text += f"; {kept} console edit(s) kept over the file"
        if overwritten := len(self.differences) - kept:
            text += f"; {overwritten} console edit(s) overwritten by the file"
        return text


def _assign(row, values: dict, report: ApplyReport, label: str, *, new: bool) -> None:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    if changed and not new:
        report.updated.append(label)


class _ConsoleGuard:
    """Judges each console-edited key against the file (see ``console_edits``)."""

    def __init__(self, config: AgencyConfig, report: ApplyReport, overwrite: bool) -> None:
        self.config = config
        self.report = report
        self.overwrite = overwrite
        self.marks = console_edits.all_marks()

    def keys(self, entity: str, row_id: int | None) -> list[str]:
        return list(self.marks.get((entity, row_id), {})) if row_id is not None else []

    def resolve(
        self,
        entity: str,
        row_id: int | None,
        key: str,
        file_value: Any,
        *,
        target: str,
        loc: tuple[Any, ...],
    ) -> Any:
        """The value to store for ``key``: the file's, unless the console set
        another one and the load does not overwrite."""
        marks = self.marks.get((entity, row_id)) if row_id is not None else None
        edit = marks.get(key) if marks else None
        if edit is None:
            return file_value
        del marks[key]
        if console_edits.same(edit.value, file_value):
            db.session.delete(edit)
            self.report.now_in_file.append(f"{target} {key}")
            return file_value
        self.report.differences.append(
            Difference(
                target=target,
                key=key,
                file_value=file_value,
                console_value=edit.value,
                edited_by=edit.edited_by,
                edited_at=edit.edited_at,
                where=self.where(loc),
                overwritten=self.overwrite,
            )
        )
        if not self.overwrite:
            return edit.value
        audit.record(
            console_edits.CONFIG_LOAD,
            f"{entity}.overwrite",
            target,
            before={key: edit.value},
            after={key: file_value},
        )
        db.session.delete(edit)
        return file_value

    def keeps_unlisted(
        self, entity: str, row_id: int, *, target: str, loc: tuple[Any, ...]
    ) -> bool:
        """Whether a row the file no longer lists (so the load would disable
        it) stays as it is because the console edited it."""
        marks: dict[str, ConsoleEdit] = self.marks.pop((entity, row_id), {})
        if not marks:
            return False
        disabled = marks.get("enabled")
        if disabled is not None and disabled.value is False:
            # Switched off in the console and gone from the file: both say off.
            for edit in marks.values():
                db.session.delete(edit)
            return False
        latest = max(marks.values(), key=lambda edit: edit.edited_at)
        self.report.differences.append(
            Difference(
                target=target,
                key=None,
                file_value=None,
                console_value={key: edit.value for key, edit in marks.items()},
                edited_by=latest.edited_by,
                edited_at=latest.edited_at,
                where=self.where(loc),
                overwritten=self.overwrite,
            )
        )
        if not self.overwrite:
            return True
        audit.record(
            console_edits.CONFIG_LOAD,
            f"{entity}.overwrite",
            target,
            before={key: edit.value for key, edit in marks.items()},
            after=None,
        )
        for edit in marks.values():
            db.session.delete(edit)
        return False

    def where(self, loc: tuple[Any, ...]) -> str:
        line = self.config.line_of(loc)
        # A status code written unquoted (999:) is an int key in the YAML.
        if loc and isinstance(loc[-1], str) and loc[-1].isdigit():
            line = self.config.line_of((*loc[:-1], int(loc[-1]))) or line
        path = format_path(loc)
        return f"{path}, line {line}" if line else path


def apply_config(config: AgencyConfig, *, overwrite_console_edits: bool = False) -> ApplyReport:
    """Make the database match ``config`` in one transaction, keeping the
    console's edits (and listing each difference) unless told to overwrite."""
    report = ApplyReport()
    try:
        guard = _ConsoleGuard(config, report, overwrite_console_edits)
        _apply_agency(config, report)
        seen = {
            _apply_integration(settings, index, guard, report)
            for index, settings in enumerate(config.integrations)
        }
        for row in db.session.execute(db.select(Integration)).scalars():
            if row.id not in seen and row.enabled:
                row.enabled = False
                report.disabled.append(f"integration {row.name}")
        if report.changed or report.differences:
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
            "time_zone": config.agency.time_zone,
            "crm": config.crm.model_dump(mode="json"),
            "geocoder": config.geocoder.model_dump(mode="json"),
        },
        report,
        "agency",
        new=new,
    )
    # Where the configuration came from, not configuration: the same settings
    # from another file (an export) are "unchanged".
    row.config_source = str(config.source_path) if config.source_path else None
    # When the configuration was last loaded: the warnings of an earlier
    # configuration no longer stand (configuration_changed_at).
    row.loaded_at = utcnow()


def _apply_rules(
    integration_id: int, index: int, settings, guard: _ConsoleGuard, report: ApplyReport
) -> None:
    """Rules from the file, by position; ones removed from the file are disabled
    (their fire-once history stays with them), unless the console edited them."""
    existing = {
        r.position: r
        for r in db.session.execute(
            db.select(Rule).where(Rule.integration_id == integration_id).order_by(Rule.id)
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
        values = {"configured": True}
        for key, column in RULE_COLUMNS.items():
            values[column] = guard.resolve(
                RULE,
                row.id,
                key,
                dumped[key],
                target=label,
                loc=("integrations", index, "rules", position, key),
            )
        _assign(row, values, report, label, new=new)
    for row in existing.values():
        label = f"rule {settings.name}#{row.position + 1}"
        if guard.keeps_unlisted(RULE, row.id, target=label, loc=("integrations", index, "rules")):
            continue
        if row.enabled:
            row.enabled = False
            report.disabled.append(label)


def _integration_settings(
    row: Integration, index: int, settings, guard: _ConsoleGuard
) -> dict[str, Any]:
    """The kind's settings as stored, with the console's message edits kept."""
    dumped = settings.model_dump(mode="json", exclude={"categories", "rules"})
    target = f"integration {settings.name}"
    for key in guard.keys(INTEGRATION, row.id):
        top, _, code = key.partition(".")
        if code:
            by_code = dict(dumped.get(top) or {})
            value = guard.resolve(
                INTEGRATION,
                row.id,
                key,
                by_code.get(code),
                target=target,
                loc=("integrations", index, top, code),
            )
            if value is None:
                by_code.pop(code, None)
            else:
                by_code[code] = value
            dumped[top] = by_code
        else:
            dumped[top] = guard.resolve(
                INTEGRATION,
                row.id,
                key,
                dumped.get(top),
                target=target,
                loc=("integrations", index, top),
            )
    return dumped


def _apply_integration(settings, index: int, guard: _ConsoleGuard, report: ApplyReport) -> int:
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
            "settings": _integration_settings(row, index, settings, guard),
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
    for position, cat in enumerate(settings.categories):
        declared.add(cat.remote_id)
        category = existing.get(cat.remote_id)
        label = f"category {settings.name}/{cat.remote_id}"
        is_new = category is None
        if is_new:
            category = Category(integration_id=row.id, remote_id=cat.remote_id)
            db.session.add(category)
            report.created.append(label)
        file_values = {
            "crm_request_type_id": cat.crm_request_type_id,
            "acknowledgment_message": cat.acknowledgment_message,
            "closing_message": cat.closing_message,
            "internal": cat.internal,
            "private": cat.private,
        }
        if cat.protected is not None:  # unset: the file leaves it to the admin
            file_values["protected"] = cat.protected
        values: dict[str, Any] = {
            key: guard.resolve(
                CATEGORY,
                category.id,
                key,
                value,
                target=label,
                loc=("integrations", index, "categories", position, key),
            )
            for key, value in file_values.items()
        }
        values["custom_fields"] = cat.model_dump(mode="json", by_alias=True)["custom_fields"]
        values["configured"] = True
        if not values.get("protected", category.protected):
            values["name"] = cat.name or category.name or cat.remote_id
            values["enabled"] = True
        _assign(category, values, report, label, new=is_new)
    _apply_rules(row.id, index, settings, guard, report)
    for remote_id, category in existing.items():
        if (
            remote_id not in declared
            and category.configured
            and category.enabled
            and not category.protected
            and not guard.keeps_unlisted(
                CATEGORY,
                category.id,
                target=f"category {settings.name}/{remote_id}",
                loc=("integrations", index, "categories"),
            )
        ):
            category.enabled = False
            report.disabled.append(f"category {settings.name}/{remote_id}")
    return row.id


def configuration_changed_at(integration_ids: list[int]) -> dict[int, datetime]:
    """When each integration's configuration last changed: a file load, an edit
    of its settings or messages, or of one of its rules in the console. A
    configuration warning older than that may describe what the change fixed:
    it stands again only when the problem is seen again."""
    if not integration_ids:
        return {}
    loaded = db.session.execute(db.select(func.max(Agency.loaded_at))).scalar()
    rows = db.session.execute(
        db.select(Integration.id, Integration.updated_at, func.max(Rule.updated_at))
        .outerjoin(Rule, Rule.integration_id == Integration.id)
        .where(Integration.id.in_(integration_ids))
        .group_by(Integration.id, Integration.updated_at)
    ).all()
    return {
        integration_id: max(t for t in (updated, rule_changed, loaded) if t is not None)
        for integration_id, updated, rule_changed in rows
    }
