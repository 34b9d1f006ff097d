"""The CRM's request types as Crosswalk last read them: titles (to match
remote categories by name) and secondary questions (requester fields, custom
fields, Open311 attributes), plus the warnings an admin should act on.

An issue's answers come as ``{question, answer}`` (documented: no key); the
key (``primary_key``) is only in the request type's ``questions[]``, so
``answers_of`` finds each answer's key there by the question's text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.errors import IntegrationError
from integrations.settings import REQUESTER_KEYS

from ..extensions import db
from ..models import Category, Integration, Issue, RequestType, utcnow
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
        _store(request_type_id, crm.get_request_type(request_type_id))
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
    return _store(request_type_id, vendors.crm_client().get_request_type(request_type_id))


def _store(request_type_id: int, body: dict[str, Any]) -> RequestType:
    """The request type as the CRM just answered (``get_request_type``), cached."""
    row = db.session.get(RequestType, request_type_id) or RequestType(id=request_type_id)
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


# ------------------------------------------------------------ answers by key
@dataclass(frozen=True)
class UnmatchedAnswer:
    """An answer whose question text names no single question of the request type."""

    question: str
    matches: int  # 0: no question has this text; more: which one is ambiguous


@dataclass(frozen=True)
class KeyedAnswers:
    """An issue's answers by question key (``primary_key``, as text), and the
    answers no key was found for."""

    by_key: Mapping[str, Any] = field(default_factory=dict)
    unmatched: tuple[UnmatchedAnswer, ...] = ()


def _normal(text: Any) -> str:
    """Question text as matched: case and runs of white space do not count."""
    return " ".join(str(text or "").split()).casefold()


def _keys_by_text(request_type: RequestType | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    questions = (request_type.questions or []) if request_type is not None else []
    for question in questions:
        if isinstance(question, dict) and question.get("primary_key") is not None:
            text = _normal(question.get("question"))
            found.setdefault(text, []).append(str(question["primary_key"]))
    return found


def key_answers(
    questions: Sequence[Mapping[str, Any]] | None, request_type: RequestType | None
) -> KeyedAnswers:
    """Each answer by its question's key: the key the CRM sent with it (a server
    that includes ``primary_key``), else the one question of the request type
    with the same text. An answered question matching none, or several, is
    unmatched; an empty answer without a key is nothing to lose."""
    keys = _keys_by_text(request_type)
    by_key: dict[str, Any] = {}
    unmatched: list[UnmatchedAnswer] = []
    for qa in questions or []:
        answer = qa.get("answer")
        if qa.get("key") not in (None, ""):
            by_key[str(qa["key"])] = answer
            continue
        found = keys.get(_normal(qa.get("question")), [])
        if len(found) == 1:
            by_key[found[0]] = answer
        elif answer not in (None, ""):
            unmatched.append(UnmatchedAnswer(str(qa.get("question") or ""), len(found)))
    return KeyedAnswers(by_key, tuple(unmatched))


def answers_of(
    issue: Issue, request_type: RequestType | None
) -> tuple[KeyedAnswers, RequestType | None]:
    """The issue's answers by key, and the request type they were matched against.

    A question added after the request type was cached would be unmatched for
    good: when an answer is unmatched and the cache predates the issue, the
    request type is read from the CRM again, once (a CRM that fails then
    leaves the cached copy in use, and the answer unmatched)."""
    keyed = key_answers(issue.questions, request_type)
    if keyed.unmatched and _cached_before(request_type, issue):
        try:
            fresh = _store(request_type.id, vendors.crm_client().get_request_type(request_type.id))
        except IntegrationError:
            return keyed, request_type
        return key_answers(issue.questions, fresh), fresh
    return keyed, request_type


def _cached_before(request_type: RequestType | None, issue: Issue) -> bool:
    if request_type is None:
        return False
    if request_type.fetched_at is None:
        return True
    return issue.crm_created_at is not None and request_type.fetched_at < issue.crm_created_at


def unmatched_warning(unmatched: UnmatchedAnswer, request_type: RequestType | None) -> str:
    """The warning naming an answer whose key was not found (``config_warning``)."""
    where = (
        f"request type {request_type.title} ({request_type.id})"
        if request_type is not None
        else "the issue's request type (none)"
    )
    found = "no question" if unmatched.matches == 0 else f"{unmatched.matches} questions"
    return (
        f"the answer to {unmatched.question!r} matches {found} of {where}: "
        "not used for requester fields or answer_of custom fields"
    )
