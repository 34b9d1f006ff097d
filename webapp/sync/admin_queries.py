"""Read-only views of the configuration for the admin console: rules by
integration, categories needing a look first, what the console changed.
Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..extensions import db
from ..models import Category, ConsoleEdit, Integration, RequestType, Rule
from . import admin_edits, console_edits
from .console_edits import CATEGORY, INTEGRATION, RULE


def integrations() -> list[Integration]:
    return list(db.session.execute(db.select(Integration).order_by(Integration.name)).scalars())


def integration(integration_id: int) -> Integration:
    row = db.session.get(Integration, integration_id)
    if row is None:
        raise admin_edits.EditNotFoundError(f"integration {integration_id} does not exist")
    return row


def seen_fields(integration_id: int) -> list[str]:
    """Field names of the integration's recently polled records (the form offers them)."""
    return admin_edits.seen_fields(integration_id)


def operand_text(value: Any) -> str:
    """A rule operand as the form shows it (typed as the YAML would read it)."""
    return admin_edits.value_text(value)


def _marked(entity: str) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    rows = db.session.execute(
        db.select(ConsoleEdit.row_id, ConsoleEdit.field).where(ConsoleEdit.entity == entity)
    )
    for row_id, key in rows:
        found.setdefault(row_id, set()).add(key)
    return found


@dataclass
class RuleRow:
    rule: Rule
    label: str  # "public-works#2", as the file's position names it
    console_keys: set[str]  # keys edited in the console, not yet in the file

    @property
    def value_text(self) -> str:
        return admin_edits.value_text(self.rule.value)

    @property
    def from_text(self) -> str:
        return admin_edits.value_text(self.rule.from_value)


@dataclass
class IntegrationRules:
    integration: Integration
    rules: list[RuleRow] = field(default_factory=list)


def rules_by_integration() -> list[IntegrationRules]:
    marked = _marked(RULE)
    out = []
    for row in integrations():
        rules = db.session.execute(
            db.select(Rule).where(Rule.integration_id == row.id).order_by(Rule.position, Rule.id)
        ).scalars()
        out.append(
            IntegrationRules(
                row,
                [
                    RuleRow(r, f"{row.name}#{r.position + 1}", marked.get(r.id, set()))
                    for r in rules
                ],
            )
        )
    return out


def rule(rule_id: int) -> Rule:
    row = db.session.get(Rule, rule_id)
    if row is None:
        raise admin_edits.EditNotFoundError(f"rule {rule_id} does not exist")
    return row


def categories_of(integration_id: int) -> list[Category]:
    return list(
        db.session.execute(
            db.select(Category)
            .where(Category.integration_id == integration_id)
            .order_by(Category.remote_id)
        ).scalars()
    )


@dataclass
class CategoryRow:
    category: Category
    integration: Integration
    request_type: str | None  # the CRM request type's title, when known
    console_keys: set[str]

    @property
    def unmapped(self) -> bool:
        return self.category.enabled and self.category.crm_request_type_id is None

    @property
    def private_not_internal(self) -> bool:
        """Private in the CRM but offered publicly (Open311): worth a look."""
        return self.category.private and not self.category.internal

    @property
    def needs_review(self) -> bool:
        return self.unmapped or self.private_not_internal


def categories_for_review() -> list[CategoryRow]:
    """Every category; unmapped ones first, then private-not-internal ones,
    then the rest by integration and remote id."""
    titles = dict(db.session.execute(db.select(RequestType.id, RequestType.title)).all())
    marked = _marked(CATEGORY)
    rows = db.session.execute(
        db.select(Category, Integration)
        .join(Integration, Category.integration_id == Integration.id)
        .order_by(Integration.name, Category.remote_id)
    ).all()
    out = [
        CategoryRow(c, i, titles.get(c.crm_request_type_id), marked.get(c.id, set()))
        for c, i in rows
    ]
    out.sort(key=lambda r: (not r.unmapped, not r.private_not_internal))
    return out


def category(category_id: int) -> CategoryRow:
    found = db.session.get(Category, category_id)
    if found is None:
        raise admin_edits.EditNotFoundError(f"category {category_id} does not exist")
    request_type = (
        db.session.get(RequestType, found.crm_request_type_id)
        if found.crm_request_type_id is not None
        else None
    )
    return CategoryRow(
        found,
        db.session.get(Integration, found.integration_id),
        request_type.title if request_type else None,
        set(console_edits.marks_of(CATEGORY, found.id)),
    )


def request_types() -> list[RequestType]:
    return list(db.session.execute(db.select(RequestType).order_by(RequestType.title)).scalars())


def integration_console_keys(integration_id: int) -> set[str]:
    return set(console_edits.marks_of(INTEGRATION, integration_id))


@dataclass(frozen=True)
class PendingEdit:
    """A console edit the file does not carry yet."""

    target: str
    key: str
    value: Any
    edited_by: str
    edited_at: Any


def console_edits_pending() -> list[PendingEdit]:
    """Every console edit not yet in the file, newest first."""
    names = dict(db.session.execute(db.select(Integration.id, Integration.name)).all())
    out = []
    for edit in db.session.execute(
        db.select(ConsoleEdit).order_by(ConsoleEdit.edited_at.desc(), ConsoleEdit.id.desc())
    ).scalars():
        out.append(
            PendingEdit(
                _target(edit, names), edit.field, edit.value, edit.edited_by, edit.edited_at
            )
        )
    return out


def _target(edit: ConsoleEdit, names: dict[int, str]) -> str:
    if edit.entity == INTEGRATION:
        return f"integration {names.get(edit.row_id, edit.row_id)}"
    if edit.entity == CATEGORY:
        row = db.session.get(Category, edit.row_id)
        if row is not None:
            return console_edits.category_label(names.get(row.integration_id, "?"), row)
    if edit.entity == RULE:
        row = db.session.get(Rule, edit.row_id)
        if row is not None:
            return console_edits.rule_label(names.get(row.integration_id, "?"), row)
    return f"{edit.entity} {edit.row_id}"
