"""What a new remote request carries: the resident's text and answers, the
address, the requester (with fields from private secondary questions) and
per-category custom fields, assembled as an ``OutboundRequest`` for the
connector to map onto its vendor's record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from integrations.base import OutboundRequest, Requester
from integrations.errors import PermanentError
from integrations.settings import REQUESTER_KEYS, DynamicField, IntegrationSettings

from ..extensions import db
from ..models import Category, Event, Issue, RequestType, SyncLink
from . import events
from .request_types import answers_of, unmatched_warning


class FieldMappingError(PermanentError):
    """The configured mapping cannot be filled for this issue (retrying won't help)."""


@dataclass
class RequesterResult:
    requester: Requester
    warnings: list[str] = field(default_factory=list)


def _question_meta(request_type: RequestType | None) -> dict[str, dict[str, Any]]:
    if request_type is None:
        return {}
    return {
        str(q.get("primary_key")): q
        for q in request_type.questions or []
        if isinstance(q, dict) and q.get("primary_key") is not None
    }


def _keyed(issue: Issue) -> dict[str, Any]:
    """Answers by the key the stored copy carries (a server that sent ``primary_key``)."""
    return {str(qa.get("key")): qa.get("answer") for qa in issue.questions or [] if qa.get("key")}


def build_requester(
    issue: Issue,
    settings: IntegrationSettings,
    request_type: RequestType | None,
    answers: Mapping[str, Any] | None = None,
) -> RequesterResult:
    """Defaults (reporter's email, configured first/last name), then the answers of
    secondary questions whose integration key names a requester field — only when
    the question keeps its answer private: a public one is never sent.

    ``answers``: by question key (``request_types.answers_of``); default, the
    keys the stored answers carry."""
    values: dict[str, str | None] = {
        "email": issue.reporter_email,
        "first_name": settings.requester_first_name,
        "last_name": settings.requester_last_name,
    }
    configured_keys = settings.question_keys
    meta = _question_meta(request_type)
    warnings: list[str] = []
    for key, answer in (_keyed(issue) if answers is None else answers).items():
        question = meta.get(key, {})
        integration_key = question.get("integration_key") or configured_keys.get(key)
        if integration_key not in REQUESTER_KEYS or answer in (None, ""):
            continue
        if not question.get("answer_kept_private"):
            text = question.get("question") or _question_text(issue, key)
            warnings.append(
                f"question {key} ({text!r}) has integration key {integration_key} "
                "but its answer is public in the CRM: not sent (make it private)"
            )
            continue
        values[REQUESTER_KEYS[integration_key]] = str(answer).strip()
    return RequesterResult(Requester(**values), warnings)


def _question_text(issue: Issue, key: str) -> str | None:
    """The question text stored with the answer keyed ``key`` (if it came keyed)."""
    return next(
        (qa.get("question") for qa in issue.questions or [] if str(qa.get("key")) == key), None
    )


def _facts(issue: Issue, link: SyncLink) -> dict[str, Any]:
    verified = link.verified_address if link.address_source == "arcgis" else None
    return {
        "crm_issue_id": issue.id,
        "summary": issue.summary,
        "description": issue.description,
        "lat": issue.lat,
        "lng": issue.lng,
        "reported_address": issue.address,
        "verified_address": verified,
        "address": verified or issue.address,
        "html_url": issue.html_url,
        "reporter_email": issue.reporter_email,
    }


def convert(value: Any, kind: str, where: str) -> Any:
    """Type-check and convert one value for a custom field."""
    text = str(value).strip()
    try:
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "integer":
            number = float(text)
            if number != int(number):
                raise ValueError
            return int(number)
        if kind == "boolean":
            lowered = text.lower()
            if lowered in ("true", "yes", "y", "1"):
                return True
            if lowered in ("false", "no", "n", "0"):
                return False
            raise ValueError
        if kind == "date":
            if isinstance(value, datetime | date):
                return value.isoformat()
            return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise FieldMappingError(f"{where}: {value!r} is not a valid {kind}") from None
    return text


def custom_fields(
    issue: Issue,
    link: SyncLink,
    category: Category | None,
    answers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Resolve the category's custom fields; missing required answers are errors.

    ``answers``: by question key (``request_types.answers_of``); default, the
    keys the stored answers carry."""
    if category is None or not category.custom_fields:
        return {}
    answers = _keyed(issue) if answers is None else answers
    facts = _facts(issue, link)
    resolved: dict[str, Any] = {}
    for name, spec in category.custom_fields.items():
        where = f"custom field {name} of category {category.remote_id}"
        if not isinstance(spec, dict):
            resolved[name] = spec  # static value from the configuration
            continue
        dynamic = DynamicField.model_validate(spec)
        if dynamic.answer_of is not None:
            value = answers.get(dynamic.answer_of)
            origin = f"the answer to question {dynamic.answer_of}"
        else:
            value = facts.get(dynamic.source)
            origin = f"the issue's {dynamic.source}"
        if value in (None, ""):
            value = dynamic.default
        if value in (None, ""):
            if dynamic.required:
                raise FieldMappingError(f"{where}: {origin} is missing and the field is required")
            continue
        resolved[name] = convert(value, dynamic.type, where)
    return resolved


def describe(issue: Issue) -> str:
    """The resident's description plus each question and answer on its own line."""
    lines = [issue.description or issue.summary or ""]
    for qa in issue.questions or []:
        if qa.get("question") and qa.get("answer") not in (None, ""):
            lines.append(f"{qa['question']}: {qa['answer']}")
    return "\n".join(line for line in lines if line)


def requester_of(
    issue: Issue, settings: IntegrationSettings, request_type: RequestType | None
) -> Requester:
    """The requester the create will carry (what ``outbound_request`` builds,
    without its warnings): known before the address, so a connector can look
    it up beside the geocode."""
    keyed, request_type = answers_of(issue, request_type)
    return build_requester(issue, settings, request_type, keyed.by_key).requester


def outbound_request(
    issue: Issue,
    link: SyncLink,
    settings: IntegrationSettings,
    request_type: RequestType | None,
    address_parts: dict[str, str],
) -> OutboundRequest:
    """Everything the connector may send; mapping problems raise FieldMappingError.

    Answers are matched to their question keys through the request type
    (documented answers carry no key); one that cannot be is a warning on
    the issue's timeline, as is a requester answer the CRM shows publicly."""
    keyed, request_type = answers_of(issue, request_type)
    requester = build_requester(issue, settings, request_type, keyed.by_key)
    warnings = [unmatched_warning(u, request_type) for u in keyed.unmatched]
    for warning in [*warnings, *requester.warnings]:
        _warn_once(link, warning)
    return OutboundRequest(
        crm_issue_id=issue.id,
        category_remote_id=link.category.remote_id if link.category else "",
        summary=issue.summary,
        description=describe(issue),
        lat=issue.lat,
        lng=issue.lng,
        reported_address=issue.address,
        verified_address=link.verified_address if link.address_source == "arcgis" else None,
        image_url=issue.image_url,
        requester=requester.requester,
        answers={key: "" if a is None else str(a) for key, a in keyed.by_key.items()},
        custom_fields=custom_fields(issue, link, link.category, keyed.by_key),
        address_parts=address_parts,
        reporter_name=issue.reporter_name,
    )


def _warn_once(link: SyncLink, warning: str) -> None:
    """A configuration warning on the issue's timeline, once (a retried create
    builds the request again: the admin needs the warning, not one per attempt)."""
    said = db.session.execute(
        db.select(Event.id).where(
            Event.issue_id == link.issue_id,
            Event.kind == "config_warning",
            Event.detail == warning,
        )
    ).first()
    if said is None:
        events.record_for(link, "config_warning", warning, level="warning")
