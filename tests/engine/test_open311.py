"""The Open311 service list: the enabled, public categories of enabled
integrations, with the CRM's questions as attributes; internal categories are
never published."""

from __future__ import annotations

from tests.engine.conftest import load_agency
from webapp.extensions import db
from webapp.models import Category, RequestType
from webapp.sync import open311

STREETLIGHT = "      - remote_id: Streetlight Out\n        crm_request_type_id: 123\n"
QUESTIONS = [
    {"primary_key": 150, "question": "How deep?", "question_type": "number"},
    {
        "primary_key": 151,
        "question": "Which lane?",
        "question_type": "select",
        "response_required": True,
        "select_values": [{"key": "L", "name": "Left"}, {"key": "R"}],
    },
    {"primary_key": 152, "question": "Blocking traffic?", "question_type": "boolean"},
    {"primary_key": 153, "question": "Crews respond within 3 days.", "question_type": "note"},
]


def codes() -> list[str]:
    return [c.remote_id for c in open311.published_categories()]


def category(remote_id: str) -> Category:
    return db.session.execute(
        db.select(Category).where(Category.remote_id == remote_id)
    ).scalar_one()


def test_enabled_categories_are_published(app):
    assert codes() == ["Pothole", "Streetlight Out"]


def test_internal_categories_are_never_published(app):
    load_agency(**{STREETLIGHT: STREETLIGHT + "        internal: true\n"})
    assert codes() == ["Pothole"]
    assert open311.find_published("Streetlight Out") is None
    assert open311.find_published("Pothole").remote_id == "Pothole"


def test_disabled_categories_and_integrations_are_not_published(app):
    category("Pothole").enabled = False
    db.session.commit()
    assert codes() == ["Streetlight Out"]
    load_agency(**{"    kind: fake\n": "    kind: fake\n    enabled: false\n"})
    assert codes() == []


def test_services_are_ordered_by_group_then_name(app):
    category("Pothole").group_name = "Streets"
    category("Streetlight Out").group_name = "Lighting"
    db.session.commit()
    assert codes() == ["Streetlight Out", "Pothole"]


def test_a_service_says_whether_it_has_questions(app):
    db.session.add(RequestType(id=122, title="Pothole", questions=QUESTIONS))
    db.session.commit()
    pothole, streetlight = open311.published_categories()
    assert open311.service(pothole) == {
        "service_code": "Pothole",
        "service_name": "Pothole",
        "description": "Pothole",
        "metadata": True,
        "type": "realtime",
        "keywords": "",
        "group": "",
    }
    assert open311.service(streetlight)["metadata"] is False


def test_a_service_definition_turns_questions_into_attributes(app):
    db.session.add(RequestType(id=122, title="Pothole", questions=QUESTIONS))
    db.session.commit()

    definition = open311.service_definition(category("Pothole"))

    assert definition["service_code"] == "Pothole"
    attributes = definition["attributes"]
    assert [(a["code"], a["datatype"], a["order"]) for a in attributes] == [
        ("150", "number", 1),
        ("151", "singlevaluelist", 2),
        ("152", "singlevaluelist", 3),
        ("153", "string", 4),
    ]
    lane, traffic, note = attributes[1], attributes[2], attributes[3]
    assert lane["required"] is True
    assert lane["values"] == [{"key": "L", "name": "Left"}, {"key": "R", "name": "R"}]
    assert traffic["values"] == [{"key": "true", "name": "Yes"}, {"key": "false", "name": "No"}]
    assert (note["variable"], lane["variable"]) == (False, True)
    assert note["description"] == "Crews respond within 3 days."
