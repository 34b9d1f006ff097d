"""The CRM's request types as Crosswalk reads them: questions refreshed for
the mapped types, read on demand once, titles matched loosely, and requester
questions whose answers the CRM shows publicly warned about."""

from __future__ import annotations

from tests.engine.conftest import load_agency
from tests.support import integration_id
from webapp.extensions import db
from webapp.models import Event, RequestType
from webapp.sync import request_types

FIRST_NAME = {
    "primary_key": 143,
    "question": "First name",
    "integration_key": "FirstNameField",
    "answer_kept_private": False,
}
LAST_NAME = {
    "primary_key": 142,
    "question": "Last name",
    "integration_key": "LastNameField",
    "answer_kept_private": True,
}
DEPTH = {"primary_key": 150, "question": "How deep?", "question_type": "number"}


def pothole_type(crm, *questions: dict) -> None:
    crm.request_types[122] = {"id": 122, "title": "Pothole", "questions": list(questions)}


def warnings() -> list[str]:
    return list(
        db.session.execute(
            db.select(Event.detail).where(Event.kind == "config_warning").order_by(Event.id)
        ).scalars()
    )


def test_refresh_reads_the_questions_of_every_mapped_request_type(app, crm):
    pothole_type(crm, DEPTH)
    request_types.remember_request_type(999, "Not mapped")
    db.session.commit()

    assert request_types.refresh_request_types(integration_id()) == 2

    assert sorted(args[0] for name, args in crm.calls if name == "get_request_type") == [122, 123]
    pothole = db.session.get(RequestType, 122)
    assert (pothole.title, pothole.questions) == ("Pothole", [DEPTH])
    assert pothole.fetched_at is not None
    assert db.session.get(RequestType, 999).fetched_at is None


def test_refresh_replaces_questions_read_before(app, crm):
    pothole_type(crm, DEPTH)
    request_types.refresh_request_types(integration_id())
    pothole_type(crm)
    request_types.refresh_request_types(integration_id())
    assert db.session.get(RequestType, 122).questions == []


def test_request_type_for_reads_from_the_crm_once(app, crm):
    pothole_type(crm, DEPTH)
    first = request_types.request_type_for(122)
    db.session.commit()
    again = request_types.request_type_for(122)
    assert first.questions == again.questions == [DEPTH]
    assert crm.count("get_request_type") == 1
    assert request_types.request_type_for(None) is None
    assert crm.count("get_request_type") == 1


def test_a_type_only_remembered_from_an_issue_is_read_for_its_questions(app, crm):
    request_types.remember_request_type(122, "Pothole")
    db.session.commit()
    pothole_type(crm, DEPTH)
    assert request_types.request_type_for(122).questions == [DEPTH]
    assert crm.count("get_request_type") == 1


def test_titles_match_ignoring_case_and_surrounding_spaces(app):
    request_types.remember_request_type(130, " Graffiti Removal")
    db.session.commit()
    assert request_types.match_title("graffiti removal  ") == 130
    assert request_types.match_title("Graffiti") is None


def test_a_public_requester_question_is_warned_a_private_one_not(app, crm):
    pothole_type(crm, FIRST_NAME, LAST_NAME, DEPTH)
    request_types.refresh_request_types(integration_id())
    [warning] = warnings()
    assert "question 143 ('First name') of request type Pothole" in warning
    assert "FirstNameField" in warning and "make it private" in warning


def test_a_requester_key_from_the_configuration_is_checked_too(app, crm):
    load_agency(
        **{"    kind: fake\n": '    kind: fake\n    question_keys: {"151": PrimaryPhoneField}\n'}
    )
    pothole_type(crm, {"primary_key": 151, "question": "Phone", "answer_kept_private": False})
    request_types.refresh_request_types(integration_id())
    [warning] = warnings()
    assert "question 151 ('Phone')" in warning and "PrimaryPhoneField" in warning
