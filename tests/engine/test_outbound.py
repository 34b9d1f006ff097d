"""What a new remote request carries: the resident's text and answers, the
address, the requester and the category's custom fields. (Conversions and
requester rules one by one: tests/unit/test_field_mapping.py.)"""

from __future__ import annotations

from integrations.base import Requester
from integrations.errors import PermanentError
from tests.engine.conftest import load_agency
from webapp.extensions import db
from webapp.models import Event, Issue, SyncLink, SyncState
from webapp.sync import addresses, ingest, outbound, push, request_types, vendors
from webapp.sync.request_types import request_type_for

QUESTIONS = [
    {"primary_key": 142, "question": "How deep is it?", "answer": "8"},
    {"primary_key": 143, "question": "Your first name", "answer": "Ada"},
    {"primary_key": 144, "question": "Your last name", "answer": "Lovelace"},
    {"primary_key": 145, "question": "Anything else?", "answer": ""},
]
REQUEST_TYPE = {
    "id": 122,
    "title": "Pothole",
    "questions": [
        {"primary_key": 142, "question": "How deep is it?"},
        # A requester field whose answer everybody can read: never sent.
        {"primary_key": 143, "integration_key": "FirstNameField", "answer_kept_private": False},
        {"primary_key": 144, "integration_key": "LastNameField", "answer_kept_private": True},
    ],
}
CUSTOM_FIELDS = {
    '        acknowledgment_message: "A crew will inspect this pothole."': (
        '        acknowledgment_message: "A crew will inspect this pothole."\n'
        "        custom_fields:\n"
        '          Depth: {answer_of: "142", type: integer}\n'
        "          Channel: SeeClickFix\n"
        '          Photo: {from: html_url, required: true, default: "none"}'
    )
}


def new_link(crm, **fields) -> SyncLink:
    issue_id = crm.add_issue(**fields)
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    return db.session.get(SyncLink, link_id)


def request_for(link: SyncLink, geocoder=None):
    settings = vendors.settings_of(link.integration)
    issue = link.issue
    parts = addresses.address_parts(link, issue, geocoder)
    return outbound.outbound_request(
        issue, link, settings, request_type_for(issue.request_type_id), parts
    )


def config_warnings(issue_id: int) -> list[str]:
    query = db.select(Event.detail).where(
        Event.issue_id == issue_id, Event.kind == "config_warning"
    )
    return list(db.session.execute(query.order_by(Event.id)).scalars())


# --------------------------------------------------------------------- describe
def test_the_description_carries_each_answered_question_on_its_own_line(app):
    issue = Issue(
        id=1,
        status="Open",
        summary="Pothole",
        description="Deep pothole in the right lane",
        questions=[
            {"question": "How deep is it?", "answer": "8 inches"},
            {"question": "Anything else?", "answer": ""},
            {"question": "", "answer": "an answer without its question"},
            {"question": "Is it in a bike lane?", "answer": "No"},
        ],
    )

    assert outbound.describe(issue) == (
        "Deep pothole in the right lane\nHow deep is it?: 8 inches\nIs it in a bike lane?: No"
    )


def test_without_a_description_the_summary_leads(app):
    issue = Issue(id=1, status="Open", summary="Pothole", description="", questions=[])
    assert outbound.describe(issue) == "Pothole"


# -------------------------------------------------------------- the request
def test_the_outbound_request_carries_the_issue_the_address_and_the_answers(app, crm, geocoder):
    crm.request_types[122] = REQUEST_TYPE
    link = new_link(crm, questions=QUESTIONS, html_url="https://crm.test/issues/1")
    addresses.verify_address(link, link.issue, lambda: geocoder, enabled=True)

    request = request_for(link, geocoder)

    assert request.crm_issue_id == link.issue_id
    assert request.category_remote_id == "Pothole"
    assert request.summary == "Pothole"
    assert request.description == (
        "Deep pothole in the right lane\nHow deep is it?: 8\n"
        "Your first name: Ada\nYour last name: Lovelace"
    )
    assert (request.lat, request.lng) == (41.3083, -72.9279)
    assert request.reported_address == "165 Church St, New Haven"
    assert request.verified_address == geocoder.label
    assert request.address == geocoder.label
    assert request.answers == {"142": "8", "143": "Ada", "144": "Lovelace", "145": ""}
    assert request.address_parts["street"] == "Church St"
    assert request.requester == Requester(
        email="ada@example.com", first_name="SeeClickFix", last_name="Lovelace"
    )


def test_an_unverified_address_is_sent_as_reported(app, crm):
    link = new_link(crm)
    link.address_source, link.verified_address = "reported", "should not travel"

    request = request_for(link)

    assert request.verified_address is None
    assert request.address == "165 Church St, New Haven"


def test_a_public_requester_answer_is_recorded_as_a_config_warning(app, crm):
    crm.request_types[122] = REQUEST_TYPE
    link = new_link(crm, questions=QUESTIONS)

    request_for(link)
    db.session.commit()

    (warning,) = config_warnings(link.issue_id)
    assert warning.startswith("question 143 ('Your first name') has integration key FirstNameField")
    assert warning.endswith("not sent (make it private)")
    event = db.session.execute(db.select(Event).where(Event.kind == "config_warning")).scalar()
    assert (event.level, event.integration_id) == ("warning", link.integration_id)


def test_a_push_sends_the_categorys_custom_fields(app, crm, remote):
    load_agency(**CUSTOM_FIELDS)
    link = new_link(crm, questions=QUESTIONS)

    push.push_link(link.id)

    record = remote.records[link.remote_id]
    assert (record["Depth"], record["Channel"], record["Photo"]) == (8, "SeeClickFix", "none")
    ((request,),) = remote.args_of("create_request")
    assert request.custom_fields == {"Depth": 8, "Channel": "SeeClickFix", "Photo": "none"}


def test_an_answer_that_does_not_fit_its_field_fails_the_push_for_good(app, crm, remote):
    load_agency(**CUSTOM_FIELDS)
    questions = [{**QUESTIONS[0], "answer": "very deep"}]
    issue_id = crm.add_issue(questions=questions)

    ingest.receive(crm.parsed(issue_id), source="poll")
    app.task_queue.drain()

    link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert link.state == SyncState.FAILED
    assert link.attempts == 1  # a mapping error is not retried
    assert link.last_error == (
        "custom field Depth of category Pothole: 'very deep' is not a valid integer"
    )
    assert remote.count("create_request") == 0
    assert issubclass(outbound.FieldMappingError, PermanentError)


# ------------------------------------------------ documented answers: no key
# Issue details carry ``{question, answer}``; the key is in the request type.
DOCUMENTED_QUESTIONS = [
    {"question": "How deep is it?", "answer": "8"},
    {"question": "Your first name", "answer": "Ada"},
    {"question": "  your LAST  name ", "answer": "Lovelace"},  # case and spaces do not count
]
KEYED_TYPE = {
    "id": 122,
    "title": "Pothole",
    "questions": [
        {"primary_key": 142, "question": "How deep is it?"},
        {"primary_key": 143, "question": "Your first name", "answer_kept_private": True},
        {
            "primary_key": 144,
            "question": "Your last name",
            "integration_key": "LastNameField",
            "answer_kept_private": True,
        },
    ],
}

# 143 feeds FirstNameField through the agency file (its API shows no integration key).
FIRST_NAME_KEY = '    kind: fake\n    question_keys: {"143": FirstNameField}\n'


def test_answers_without_keys_are_keyed_through_the_request_type(app, crm):
    load_agency(**CUSTOM_FIELDS, **{"    kind: fake\n": FIRST_NAME_KEY})
    crm.request_types[122] = KEYED_TYPE
    link = new_link(crm, questions=DOCUMENTED_QUESTIONS)

    request = request_for(link)

    assert request.answers == {"142": "8", "143": "Ada", "144": "Lovelace"}
    assert request.requester == Requester(
        email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    assert request.custom_fields["Depth"] == 8  # answer_of: "142"
    assert config_warnings(link.issue_id) == []


def test_an_answer_no_question_has_is_a_warning_naming_it_once(app, crm):
    crm.request_types[122] = KEYED_TYPE
    questions = [*DOCUMENTED_QUESTIONS, {"question": "Is it in a bike lane?", "answer": "No"}]
    link = new_link(crm, questions=questions)

    request = request_for(link)
    request_for(link)  # a retried create builds the request again
    db.session.commit()

    assert "Is it in a bike lane?: No" in request.description  # the crew still reads it
    assert config_warnings(link.issue_id) == [
        "the answer to 'Is it in a bike lane?' matches no question of request type Pothole "
        "(122): not used for requester fields or answer_of custom fields"
    ]


def test_an_answer_whose_text_two_questions_share_is_not_guessed(app, crm):
    twice = {"primary_key": 150, "question": "How deep is it?"}
    crm.request_types[122] = {**KEYED_TYPE, "questions": [*KEYED_TYPE["questions"], twice]}
    link = new_link(crm, questions=DOCUMENTED_QUESTIONS)

    request = request_for(link)
    db.session.commit()

    assert "142" not in request.answers and "150" not in request.answers
    [warning] = config_warnings(link.issue_id)
    assert warning.startswith("the answer to 'How deep is it?' matches 2 questions of")


def test_a_request_type_cached_before_the_issue_is_read_again_for_a_new_question(app, crm):
    crm.request_types[122] = {**KEYED_TYPE, "questions": KEYED_TYPE["questions"][:1]}
    request_types.refresh_request_types()  # cached before the question was added
    db.session.commit()
    crm.advance(7200)  # the CRM's clock past ours: the issue is reported after the cache
    crm.request_types[122] = KEYED_TYPE
    link = new_link(crm, questions=DOCUMENTED_QUESTIONS)

    request = request_for(link)
    request_for(link)

    assert request.answers == {"142": "8", "143": "Ada", "144": "Lovelace"}
    assert crm.count("get_request_type") == 3  # two at the refresh, one for the new question


def test_a_server_that_sends_the_keys_needs_no_request_type(app, crm):
    link = new_link(crm, questions=QUESTIONS)  # with primary_key, and no request type known
    assert request_for(link).answers == {"142": "8", "143": "Ada", "144": "Lovelace", "145": ""}
