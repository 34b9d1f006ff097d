"""Values an admin changed in the console, remembered per row and key, so that
``config load`` never silently writes the file's value over them.

A mark (``ConsoleEdit``) names the row (an integration, a category, a rule),
the configuration key (``message``, ``closing_messages.999``) and the value
the admin set. When the file is loaded again, each marked key is judged:

* the file says the same: the file now carries the value, the mark is dropped
  (so a later file change to it applies, like any other key);
* the file says something else: the console's value is kept and the
  difference is listed, unless the load was told to overwrite (then the
  file's value is written, the mark dropped, and the overwrite audited).

Keys nobody edited carry no mark: the file's changes to them always apply.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..extensions import db
from ..models import Category, ConsoleEdit, Integration, Rule, utcnow
from . import audit

INTEGRATION = "integration"
CATEGORY = "category"
RULE = "rule"

# The actor of writes the file makes over console edits (audited).
CONFIG_LOAD = audit.Actor("config load")


def same(a: Any, b: Any) -> bool:
    """Equal as the JSON column stores them (so 1 and true differ, and 1 and 1.0 do not)."""
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, default=str)


def mark(entity: str, row_id: int, key: str, value: Any, actor: audit.Actor) -> None:
    """Remember that ``actor`` set ``key`` of the row to ``value`` in the console
    (added to the session: the caller's commit writes it with the change)."""
    edit = db.session.execute(
        db.select(ConsoleEdit).where(
            ConsoleEdit.entity == entity, ConsoleEdit.row_id == row_id, ConsoleEdit.field == key
        )
    ).scalar_one_or_none()
    if edit is None:
        edit = ConsoleEdit(entity=entity, row_id=row_id, field=key)
        db.session.add(edit)
    edit.value = value
    edit.edited_by = actor.name[:254]
    edit.edited_at = utcnow()


def marks_of(entity: str, row_id: int) -> dict[str, ConsoleEdit]:
    """The row's console edits by key."""
    rows = db.session.execute(
        db.select(ConsoleEdit).where(ConsoleEdit.entity == entity, ConsoleEdit.row_id == row_id)
    ).scalars()
    return {edit.field: edit for edit in rows}


def all_marks() -> dict[tuple[str, int], dict[str, ConsoleEdit]]:
    """Every console edit, by (entity, row id) and key: one query per load."""
    found: dict[tuple[str, int], dict[str, ConsoleEdit]] = defaultdict(dict)
    for edit in db.session.execute(db.select(ConsoleEdit).order_by(ConsoleEdit.id)).scalars():
        found[(edit.entity, edit.row_id)][edit.field] = edit
    return found


def rule_label(integration_name: str, rule: Rule) -> str:
    """How the configuration names a rule: by integration and place in its list."""
    return f"rule {integration_name}#{rule.position + 1}"


def category_label(integration_name: str, category: Category) -> str:
    return f"category {integration_name}/{category.remote_id}"


def integration_label(integration: Integration) -> str:
    return f"integration {integration.name}"


@dataclass(frozen=True)
class Difference:
    """A key the file and the console disagree on, and what the load did."""

    target: str  # "rule public-works#1"
    key: str | None  # "message"; None: the file does not list the entry at all
    file_value: Any
    console_value: Any
    edited_by: str
    edited_at: datetime
    where: str | None  # "integrations[0].rules[0].message (line 37)"
    overwritten: bool

    def describe(self) -> str:
        where = f" ({self.where})" if self.where else ""
        when = self.edited_at.strftime("%Y-%m-%d %H:%M UTC")
        if self.key is None:
            outcome = "disabled as the file says" if self.overwritten else "kept"
            edited = ", ".join(sorted(self.console_value or {}))
            return (
                f"{self.target}: not in the file{where}, edited in the console ({edited}; "
                f"by {self.edited_by} on {when}): {outcome}"
            )
        outcome = "the file's value written" if self.overwritten else "the console's value kept"
        return (
            f"{self.target} {self.key}: file {show(self.file_value)}{where}, console "
            f"{show(self.console_value)} (set by {self.edited_by} on {when}): {outcome}"
        )


def show(value: Any) -> str:
    """A value as the YAML would read it, cut short for one line."""
    if value is None:
        return "(not set)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "…"
