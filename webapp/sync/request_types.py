"""The CRM's request types as Crosswalk last read them: titles (to match
remote categories by name) and secondary questions (requester fields, custom
fields, Open311 attributes), plus the warnings an admin should act on."""

from __future__ import annotations

from integrations.settings import REQUESTER_KEYS

from ..extensions import db
from ..models import Category, Integration, RequestType, utcnow
from . import events, vendors


def match_title(name: str) -> int | None:
    """The request type titled ``name`` (ignoring case and spaces around it)."""
    wanted = name.strip().casefold()
    for request_type in db.session.execute(db.select(RequestType)).scalars():
        if request_type.title.strip().casefold() == wanted:
            return request_type.id
    return None


def refresh_request_types(integration_id: int | None = None) -> int:
    """Read the secondary questions of every mapped CRM request type."""
    query = (
        db.select(Category.crm_request_type_id)
        .where(Category.crm_request_type_id.is_not(None))
        .distinct()
    )
    if integration_id is not None:
        query = query.where(Category.integration_id == integration_id)
    ids = db.session.execute(query).scalars().all()
    crm = vendors.crm_client()
    for request_type_id in ids:
        body = crm.get_request_type(request_type_id)
        row = db.session.get(RequestType, request_type_id) or RequestType(id=request_type_id)
        row.title = str(body.get("title") or row.title or request_type_id)
        row.questions = body["questions"]
        row.fetched_at = utcnow()
        db.session.add(row)
    if integration_id is not None:
        warn_public_requester_questions(integration_id)
    db.session.commit()
    return len(ids)


def public_requester_questions(integration: Integration) -> list[str]:
    """Questions whose integration key names a requester field but whose answer
    the CRM shows publicly: they are never sent; the admin should fix them."""
    configured = vendors.settings_of(integration).question_keys
    type_ids = {
        c.crm_request_type_id
        for c in integration.categories
        if c.enabled and c.crm_request_type_id is not None
    }
    problems = []
    for type_id in sorted(type_ids):
        request_type = db.session.get(RequestType, type_id)
        for question in request_type.questions if request_type else []:
            key = str(question.get("primary_key"))
            integration_key = question.get("integration_key") or configured.get(key)
            if integration_key in REQUESTER_KEYS and not question.get("answer_kept_private"):
                problems.append(
                    f"question {key} ({question.get('question')!r}) of request type "
                    f"{request_type.title} has integration key {integration_key} but its "
                    "answer is public in the CRM: it is never sent (make it private)"
                )
    return problems


def warn_public_requester_questions(integration_id: int) -> None:
    integration = db.session.get(Integration, integration_id)
    for problem in public_requester_questions(integration):
        events.record("config_warning", problem, integration_id=integration_id, level="warning")


def request_type_for(request_type_id: int | None) -> RequestType | None:
    """The request type with its questions, read from the CRM once if not yet known."""
    if request_type_id is None:
        return None
    row = db.session.get(RequestType, request_type_id)
    if row is not None and row.fetched_at is not None:
        return row
    body = vendors.crm_client().get_request_type(request_type_id)
    row = row or RequestType(id=request_type_id)
    row.title = str(body.get("title") or row.title or request_type_id)
    row.questions = body["questions"]
    row.fetched_at = utcnow()
    db.session.add(row)
    return row


def remember_request_type(request_type_id: int | None, title: str | None) -> None:
    """Note a request type seen on an issue, so categories can match it by title."""
    if request_type_id is None or not title:
        return
    row = db.session.get(RequestType, request_type_id)
    if row is None:
        db.session.add(RequestType(id=request_type_id, title=title, questions=[]))
    elif row.title != title:
        row.title = title
