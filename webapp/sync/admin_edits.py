"""What admins change in the console: rules, messages and categories.

Every edit is validated by the models the configuration file is validated
by (``RuleSettings``, ``CategorySettings``, the kind's settings model), so
the console accepts exactly what ``config load`` accepts; a rule's field is
also checked against the fields Crosswalk has seen on the integration's
records. Each saved edit writes, in one commit, the change, its console
mark (``console_edits``: ``config load`` keeps it over the file) and its
audit entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from integrations.registry import connector_class
from integrations.rule_settings import RuleSettings
from integrations.settings import CategorySettings

from ..agency_config.problems import problem_from_error
from ..extensions import db
from ..models import Category, Integration, Rule, SyncLink
from . import audit, console_edits
from .configure import CATEGORY_KEYS, RULE_COLUMNS
from .console_edits import CATEGORY, INTEGRATION, RULE
from .rules import close_names

# How many of an integration's most recently polled records name the fields
# a rule may use: enough to see every field of the class, one cheap query.
SEEN_RECORDS = 50
# The integration's own message keys (status-code messages are keyed below).
INTEGRATION_MESSAGES = ("acknowledgment_message", "closing_message")
# Messages by status code, per kind's settings model (Lucity).
STATUS_MESSAGE_KEYS = ("closing_messages", "status_messages")


class EditNotFoundError(LookupError):
    """The rule, category or integration to edit does not exist."""


@dataclass
class EditResult:
    """Problems by form field (``""``: the whole form); nothing is saved when
    there is one. ``suggestions``: field names close to a mistyped one."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    suggestions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # key: (before, after)
    row_id: int | None = None
    # The rule's field is valid but not on the records seen so far (the error
    # under "field"): a live record may still have it, so a preview goes on.
    unknown_field: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)


def _pydantic_errors(exc: ValidationError, data: Mapping[str, Any], model: type[BaseModel]):
    """(form key, message) per error, worded as ``config load`` words them."""
    for err in exc.errors():
        problem = problem_from_error(err, data, {}, model)
        key = str(err["loc"][0]) if err["loc"] else ""
        yield key, problem.message


# --------------------------------------------------------------------------- values
def parse_value(text: str | None) -> Any:
    """A rule operand typed as the YAML file would type it: ``1`` a number,
    ``true`` a boolean, ``2026-11-23`` a date, ``"1"`` text; blank is none."""
    if text is None or not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text.strip()  # not YAML (an unclosed quote): the text as written


def value_text(value: Any) -> str:
    """The form text of a stored operand, such that ``parse_value`` gives it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    try:
        if yaml.safe_load(text) == text and text == text.strip():
            return text
    except yaml.YAMLError:
        pass
    return yaml.safe_dump(text, default_style='"').strip()


# ---------------------------------------------------------------------------- rules
@dataclass
class RuleInput:
    """A rule as the console's form sends it (operands as YAML text)."""

    integration_id: int
    field: str = ""
    op: str = ""
    value: str = ""
    from_: str = ""
    message: str = ""
    # (dataclasses.field: the name ``field`` is the rule's field here)
    categories: list[str] = dataclasses.field(default_factory=list)

    def data(self) -> dict[str, Any]:
        """The rule as a file entry (the mapping ``RuleSettings`` validates)."""
        data: dict[str, Any] = {"field": self.field, "op": self.op, "message": self.message}
        if (value := parse_value(self.value)) is not None:
            data["value"] = value
        if (from_value := parse_value(self.from_)) is not None:
            data["from"] = from_value
        if self.categories:
            data["categories"] = list(self.categories)
        return data


def seen_fields(integration_id: int, limit: int = SEEN_RECORDS) -> list[str]:
    """The field names of the integration's most recently polled records."""
    rows = db.session.execute(
        db.select(SyncLink.remote_fields)
        .where(SyncLink.integration_id == integration_id, SyncLink.remote_fields.is_not(None))
        .order_by(SyncLink.updated_at.desc(), SyncLink.id.desc())
        .limit(limit)
    ).scalars()
    names: set[str] = set()
    for fields in rows:
        if isinstance(fields, Mapping):
            names.update(str(name) for name in fields)
    return sorted(names)


def check_rule(form: RuleInput) -> tuple[RuleSettings | None, EditResult]:
    """The rule validated as ``config load`` validates it, and its field
    checked against the fields seen on the integration's records."""
    result = EditResult()
    integration = db.session.get(Integration, form.integration_id)
    if integration is None:
        result.add("integration", f"integration {form.integration_id} does not exist")
        return None, result
    data = form.data()
    settings = None
    try:
        settings = RuleSettings.model_validate(data)
    except ValidationError as exc:
        for key, message in _pydantic_errors(exc, data, RuleSettings):
            result.add(key, message)
    known = {
        c.remote_id
        for c in db.session.execute(
            db.select(Category).where(Category.integration_id == integration.id)
        ).scalars()
    }
    for remote_id in form.categories:
        if remote_id not in known:
            result.add("categories", f"{integration.name} has no category {remote_id!r}")
    if "field" not in result.errors and form.field.strip():
        _check_field(integration, form.field.strip(), result)
    return settings, result


def _check_field(integration: Integration, name: str, result: EditResult) -> None:
    seen = seen_fields(integration.id)
    if not seen:
        result.notes.append(
            f"{integration.name} has no polled records yet, so the field {name!r} could "
            "not be checked; a field the records lack shows as a rule error after a poll"
        )
        return
    if name in seen:
        return
    result.suggestions = close_names(name, seen)
    if result.suggestions:
        hint = "did you mean " + " or ".join(f'"{s}"' for s in result.suggestions) + "?"
    else:
        shown = ", ".join(seen[:12]) + (", …" if len(seen) > 12 else "")
        hint = f"its fields are {shown}"
    result.add("field", f'{integration.name}\'s records have no field "{name}"; {hint}')
    result.unknown_field = True


def rule_values(rule: Rule) -> dict[str, Any]:
    """A rule row as the file's keys."""
    return {key: getattr(rule, column) for key, column in RULE_COLUMNS.items()}


def rule_target(rule: Rule, integration: Integration) -> str:
    return f"rule {rule.id} ({integration.name}#{rule.position + 1})"


def save_rule(actor: audit.Actor, rule_id: int | None, form: RuleInput) -> EditResult:
    """Create (``rule_id`` None) or change a rule; nothing is saved on a problem."""
    settings, result = check_rule(form)
    if settings is None or not result.ok:
        return result
    integration = db.session.get(Integration, form.integration_id)
    dumped = settings.model_dump(mode="json", by_alias=True)
    if rule_id is None:
        last = db.session.execute(
            db.select(db.func.max(Rule.position)).where(Rule.integration_id == integration.id)
        ).scalar_one()
        rule = Rule(
            integration_id=integration.id,
            position=0 if last is None else last + 1,
            configured=True,  # part of the configuration now: exported, checked
        )
        db.session.add(rule)
        before: dict[str, Any] = {}
    else:
        rule = _rule(rule_id)
        if rule.integration_id != integration.id:
            result.add("integration", "a rule cannot move to another integration")
            return result
        before = rule_values(rule)
    after = {key: dumped[key] for key in RULE_COLUMNS if key != "enabled"}
    after["enabled"] = before.get("enabled", True)
    changed = {k: (before.get(k), v) for k, v in after.items() if k not in before}
    changed.update(
        {
            k: (before[k], v)
            for k, v in after.items()
            if k in before and not console_edits.same(before[k], v)
        }
    )
    if not changed:
        result.row_id = rule.id
        return result
    for key, (_, value) in changed.items():
        setattr(rule, RULE_COLUMNS[key], value)
    db.session.flush()
    for key, (_, value) in changed.items():
        console_edits.mark(RULE, rule.id, key, value, actor)
    audit.record(
        actor,
        "rule.create" if rule_id is None else "rule.update",
        rule_target(rule, integration),
        before={k: old for k, (old, _) in changed.items()} if rule_id is not None else None,
        after={k: new for k, (_, new) in changed.items()},
    )
    db.session.commit()
    result.changed, result.row_id = changed, rule.id
    return result


def set_rule_enabled(actor: audit.Actor, rule_id: int, enabled: bool) -> Rule:
    """Switch a rule on or off (off keeps it, and its fire-once history)."""
    rule = _rule(rule_id)
    if rule.enabled != enabled:
        rule.enabled = enabled
        console_edits.mark(RULE, rule.id, "enabled", enabled, actor)
        integration = db.session.get(Integration, rule.integration_id)
        audit.record(
            actor,
            "rule.enable" if enabled else "rule.disable",
            rule_target(rule, integration),
            before={"enabled": not enabled},
            after={"enabled": enabled},
        )
        db.session.commit()
    return rule


def _rule(rule_id: int) -> Rule:
    rule = db.session.get(Rule, rule_id)
    if rule is None:
        raise EditNotFoundError(f"rule {rule_id} does not exist")
    return rule


# ------------------------------------------------------------------------- messages
def _integration(integration_id: int) -> Integration:
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        raise EditNotFoundError(f"integration {integration_id} does not exist")
    return integration


def status_message_key(integration: Integration) -> str | None:
    """The kind's messages-by-status-code key (``closing_messages`` of Lucity
    work requests, ``status_messages`` of work orders), if it has one."""
    fields = connector_class(integration.kind).settings_model.model_fields
    return next((key for key in STATUS_MESSAGE_KEYS if key in fields), None)


def _blank_is_none(text: str | None) -> str | None:
    return text if text is not None and text.strip() else None


def save_integration_messages(
    actor: audit.Actor,
    integration_id: int,
    messages: Mapping[str, str | None],
    by_status: Mapping[str, str | None] | None = None,
) -> EditResult:
    """The integration's acknowledgment and closing messages (blank: none, so
    the built-in default applies) and, for kinds that have them, its
    messages by status code (``by_status``: the whole new mapping; a code
    left out or blank is removed)."""
    integration = _integration(integration_id)
    model = connector_class(integration.kind).settings_model
    status_key = status_message_key(integration)
    proposed = dict(integration.settings)
    for key in INTEGRATION_MESSAGES:
        if key in messages:
            proposed[key] = _blank_is_none(messages[key])
    if by_status is not None and status_key is not None:
        proposed[status_key] = {
            code.strip(): text for code, text in by_status.items() if _blank_is_none(text)
        }
    result = EditResult(row_id=integration.id)
    try:
        validated = model.model_validate(proposed)
    except ValidationError as exc:
        for err in exc.errors():
            problem = problem_from_error(err, proposed, {}, model)
            key = ".".join(str(part) for part in err["loc"][:2]) if err["loc"] else ""
            result.add(key, problem.message)
        return result
    stored = validated.model_dump(mode="json", exclude={"categories", "rules"})
    changed: dict[str, tuple[Any, Any]] = {}
    for key in INTEGRATION_MESSAGES:
        if not console_edits.same(integration.settings.get(key), stored.get(key)):
            changed[key] = (integration.settings.get(key), stored.get(key))
    if status_key is not None:
        old, new = integration.settings.get(status_key) or {}, stored.get(status_key) or {}
        for code in sorted(set(old) | set(new)):
            if not console_edits.same(old.get(code), new.get(code)):
                changed[f"{status_key}.{code}"] = (old.get(code), new.get(code))
    if changed:
        integration.settings = stored
        for key, (_, value) in changed.items():
            console_edits.mark(INTEGRATION, integration.id, key, value, actor)
        audit.record(
            actor,
            "messages.update",
            f"integration {integration.name}",
            before={k: old for k, (old, _) in changed.items()},
            after={k: new for k, (_, new) in changed.items()},
        )
        db.session.commit()
    result.changed = changed
    return result


# ----------------------------------------------------------------------- categories
def _category(category_id: int) -> Category:
    category = db.session.get(Category, category_id)
    if category is None:
        raise EditNotFoundError(f"category {category_id} does not exist")
    return category


def _category_mapping(type_id: int, besides: int) -> str | None:
    """The other enabled category mapped to CRM request type ``type_id``, if any."""
    found = db.session.execute(
        db.select(Integration.name, Category.remote_id)
        .join(Integration, Category.integration_id == Integration.id)
        .where(
            Category.crm_request_type_id == type_id,
            Category.id != besides,
            Category.enabled.is_(True),
        )
    ).first()
    return f"{found[0]}/{found[1]}" if found else None


def category_values(category: Category) -> dict[str, Any]:
    return {key: getattr(category, key) for key in CATEGORY_KEYS}


def save_category(actor: audit.Actor, category_id: int, values: Mapping[str, Any]) -> EditResult:
    """A category's mapping (CRM request type), flags and messages, validated
    as a file's category entry; only the keys given are changed."""
    category = _category(category_id)
    proposed = category_values(category)
    for key in CATEGORY_KEYS:
        if key in values:
            value = values[key]
            proposed[key] = _blank_is_none(value) if isinstance(value, str) else value
    data = {"remote_id": category.remote_id, **proposed}
    result = EditResult(row_id=category.id)
    try:
        validated = CategorySettings.model_validate(data)
    except ValidationError as exc:
        for key, message in _pydantic_errors(exc, data, CategorySettings):
            result.add(key, message)
        return result
    after = {key: getattr(validated, key) for key in CATEGORY_KEYS}
    after["protected"] = bool(after["protected"])
    if (type_id := after["crm_request_type_id"]) is not None:
        other = _category_mapping(type_id, category.id)
        if other is not None:
            # As the file loader refuses it: one CRM request type, one category.
            result.add(
                "crm_request_type_id",
                f"CRM request type {type_id} is already mapped by {other}: each CRM issue "
                "goes to one category, so this one would never receive an issue",
            )
            return result
    before = category_values(category)
    changed = {
        key: (before[key], after[key])
        for key in CATEGORY_KEYS
        if not console_edits.same(before[key], after[key])
    }
    if changed:
        for key, (_, value) in changed.items():
            setattr(category, key, value)
            console_edits.mark(CATEGORY, category.id, key, value, actor)
        # Part of the configuration now: the category sync keeps the admin's
        # flags (as it keeps a file's), and an export writes the category.
        category.configured = True
        integration = db.session.get(Integration, category.integration_id)
        audit.record(
            actor,
            "category.update",
            f"category {category.id} ({integration.name}/{category.remote_id})",
            before={k: old for k, (old, _) in changed.items()},
            after={k: new for k, (_, new) in changed.items()},
        )
        db.session.commit()
    result.changed = changed
    return result
