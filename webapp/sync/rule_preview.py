""" "Test this rule": a rule (saved, or as the admin is typing it) against one
linked issue's remote record, read live through the connector.

It shows what the next remote poll would decide: the condition with the
record's values, whether it matches now, whether it would fire (once per
becoming true, judged with the stored ``RuleState`` and the fields of the
last poll, exactly as ``remote_poll`` judges it), and the comment that
would be posted. It writes nothing: no vendor write, no database change
(the connector only reads; the session is rolled back after).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integrations.errors import IntegrationError
from integrations.rule_settings import EDGE_OPERATORS

from ..extensions import db
from ..models import Integration, RuleState, SyncLink, SyncState
from . import admin_edits, vendors
from .rules import Rule, RuleError, compare, decide, equal, is_empty, rule_from_settings

# How many of an integration's links the preview offers to pick from.
PICKABLE_LINKS = 20


@dataclass
class ConditionRow:
    """One part of the condition: the record's value, what the rule asks, and
    whether it holds (None when it cannot be judged)."""

    label: str  # "TasksField now", "StatusField at the last poll"
    record_value: Any
    present: bool  # the record has the field at all
    expected: str  # ">= 1", 'was "Open"', "differs from the last poll"
    holds: bool | None


@dataclass
class RulePreview:
    rule_text: str | None = None
    issue_id: int | None = None
    link_id: int | None = None
    link_state: str | None = None
    remote_display_id: str | None = None
    category: str | None = None
    problems: list[str] = field(default_factory=list)  # why nothing could be judged
    notes: list[str] = field(default_factory=list)  # warnings that do not stop the preview
    field_warnings: list[str] = field(default_factory=list)  # the field, unseen on polled records
    suggestions: list[str] = field(default_factory=list)
    rows: list[ConditionRow] = field(default_factory=list)
    applies: bool = True  # the rule covers the issue's category
    matches: bool | None = None
    was_true: bool | None = None  # stored state for this rule and link (None: never judged)
    fires: bool | None = None
    comment: str | None = None  # the exact text posted when it fires
    posted_as: str | None = None
    verdict: str = ""
    record_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkChoice:
    issue_id: int
    state: str
    remote: str
    category: str | None
    summary: str


def pickable_links(integration_id: int, limit: int = PICKABLE_LINKS) -> list[LinkChoice]:
    """The integration's most recent links with a remote request, acknowledged first."""
    rows = db.session.execute(
        db.select(SyncLink)
        .where(SyncLink.integration_id == integration_id, SyncLink.remote_id.is_not(None))
        .order_by((SyncLink.state == SyncState.ACKNOWLEDGED).desc(), SyncLink.id.desc())
        .limit(limit)
    ).scalars()
    return [
        LinkChoice(
            issue_id=link.issue_id,
            state=link.state,
            remote=link.remote_display_id or link.remote_id,
            category=link.category.remote_id if link.category else None,
            summary=(link.issue.summary or "")[:60],
        )
        for link in rows
    ]


def preview_rule(
    form: admin_edits.RuleInput, issue_id: int | None, rule_id: int | None = None
) -> RulePreview:
    """The rule in ``form`` judged against issue ``issue_id``'s remote record now.
    ``rule_id``: the saved rule being edited (its stored state decides firing)."""
    try:
        return _preview(form, issue_id, rule_id)
    finally:
        db.session.rollback()  # nothing the preview touched is ever written


def _preview(form: admin_edits.RuleInput, issue_id: int | None, rule_id: int | None) -> RulePreview:
    preview = RulePreview()
    settings, check = admin_edits.check_rule(form)
    # A field no polled record had is only a warning here: the live record
    # below says whether it exists (and, if not, which names are close).
    blocking = {k: v for k, v in check.errors.items() if not (k == "field" and check.unknown_field)}
    if settings is None or blocking:
        preview.problems = [m for messages in check.errors.values() for m in messages]
        preview.suggestions = check.suggestions
        preview.verdict = "Fix the rule to see what it would do."
        return preview
    preview.field_warnings = list(check.errors.get("field", []))
    preview.notes = [*check.notes, *preview.field_warnings]
    preview.suggestions = check.suggestions
    rule = rule_from_settings(settings.model_dump(by_alias=True), id=rule_id)
    preview.rule_text = rule.describe()
    if issue_id is None:
        preview.verdict = "Pick a linked issue to test the rule against its record."
        return preview
    integration = db.session.get(Integration, form.integration_id)
    link = db.session.execute(
        db.select(SyncLink).where(
            SyncLink.issue_id == issue_id, SyncLink.integration_id == integration.id
        )
    ).scalar_one_or_none()
    preview.issue_id = issue_id
    if link is None:
        preview.problems = [f"issue {issue_id} has no link to {integration.name}"]
        return preview
    preview.link_id, preview.link_state = link.id, link.state
    preview.remote_display_id = link.remote_display_id or link.remote_id
    preview.category = link.category.remote_id if link.category else None
    if link.remote_id is None:
        preview.problems = [f"issue {issue_id} has no request in {integration.name} yet"]
        return preview
    record = _fetch(integration, link.remote_id, preview)
    if record is None:
        return preview
    preview.record_fields = dict(record.fields)
    previous = dict(link.remote_fields) if link.remote_fields else None
    _judge(preview, rule, link, dict(record.fields), previous)
    return preview


def _fetch(integration: Integration, remote_id: str, preview: RulePreview):
    """The remote record now (the connector reads; it never writes here)."""
    try:
        connector = vendors.connector(integration)
    except IntegrationError as exc:
        preview.problems = [str(exc)]
        return None
    try:  # (the connector is shared: vendors closes it, not its callers)
        record = connector.fetch_records([remote_id]).get(str(remote_id))
    except IntegrationError as exc:
        preview.problems = [f"{integration.name} could not be read: {exc}"]
        return None
    if record is None:
        preview.problems = [f"{integration.name} has no request {remote_id} any more"]
    return record


def _judge(
    preview: RulePreview,
    rule: Rule,
    link: SyncLink,
    current: dict[str, Any],
    previous: dict[str, Any] | None,
) -> None:
    preview.rows = _rows(rule, current, previous)
    preview.applies = rule.applies_to(preview.category)
    if rule.id is not None:
        state = db.session.execute(
            db.select(RuleState).where(RuleState.link_id == link.id, RuleState.rule_id == rule.id)
        ).scalar_one_or_none()
        preview.was_true = state.is_true if state is not None else None
    try:
        decision = decide(rule, current, previous, preview.was_true)
    except RuleError as exc:
        # The live record's own words replace the polled records' warning.
        preview.notes = [n for n in preview.notes if n not in preview.field_warnings]
        preview.problems = [str(exc)]
        preview.suggestions = list(getattr(exc, "suggestions", []))
        preview.verdict = "The poll would report this rule as a configuration error."
        return
    preview.matches = decision.now_true
    preview.comment = rule.message
    preview.posted_as = vendors.agency().integration_user
    polled = link.state == SyncState.ACKNOWLEDGED
    preview.fires = decision.fire and preview.applies and polled
    preview.verdict = _verdict(preview, rule, decision.fire, polled)


def _verdict(preview: RulePreview, rule: Rule, fire: bool, polled: bool) -> str:
    if not preview.applies:
        shown = ", ".join(rule.categories)
        return (
            f"The rule is only for categories {shown}; this issue is "
            f"{preview.category or 'uncategorised'}: nothing would be posted."
        )
    if not preview.matches:
        return "The condition does not hold now: nothing would be posted."
    if not polled:
        return (
            f"The condition holds, but the link is {preview.link_state}: the poll reads only "
            "acknowledged links, so nothing would be posted."
        )
    if fire:
        if rule.op in EDGE_OPERATORS:
            return "The change is new since the last poll: the next poll would post the comment."
        if preview.was_true is None:
            return "The condition holds: the next poll would post the comment (first time)."
        return (
            "The condition holds now and did not at the last poll: the next poll would "
            "post the comment."
        )
    return (
        "The condition already held at the last poll (a rule fires once per becoming "
        "true): nothing would be posted."
    )


def _rows(
    rule: Rule, current: dict[str, Any], previous: dict[str, Any] | None
) -> list[ConditionRow]:
    name = rule.field
    present = name in current
    now = current.get(name)
    was_present = previous is not None and name in previous
    before = previous.get(name) if was_present else None
    if rule.op == "changes":
        return [
            ConditionRow(f"{name} at the last poll", before, was_present, "(any value)", None),
            ConditionRow(
                f"{name} now",
                now,
                present,
                "differs from the last poll",
                (was_present and present and not equal(before, now)) if present else None,
            ),
        ]
    if rule.op == "changes from":
        return [
            ConditionRow(
                f"{name} at the last poll",
                before,
                was_present,
                f"= {_show(rule.from_value)}",
                equal(before, rule.from_value) if was_present else False,
            ),
            ConditionRow(
                f"{name} now",
                now,
                present,
                f"= {_show(rule.value)}",
                equal(now, rule.value) if present else None,
            ),
        ]
    if rule.op == "is empty":
        return [
            ConditionRow(
                f"{name} now", now, present, "is empty", is_empty(now) if present else None
            )
        ]
    if rule.op == "is not empty":
        return [
            ConditionRow(
                f"{name} now", now, present, "is not empty", not is_empty(now) if present else None
            )
        ]
    return [
        ConditionRow(
            f"{name} now",
            now,
            present,
            f"{rule.op} {_show(rule.value)}",
            compare(now, rule.value, rule.op) if present else None,
        )
    ]


def _show(value: Any) -> str:
    return admin_edits.value_text(value) or "(none)"
