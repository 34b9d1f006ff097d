"""The agency file into the database: idempotent, and what leaves the file is
disabled, never deleted; rules kept by position; protected categories left
to the admin."""

from __future__ import annotations

from pathlib import Path

from tests.engine.conftest import AGENCY
from webapp.agency_config import parse_agency_config
from webapp.extensions import db
from webapp.models import Agency, Category, Event, Integration, Rule
from webapp.sync.configure import ApplyReport, apply_config

STREETLIGHT = "      - remote_id: Streetlight Out\n        crm_request_type_id: 123\n"
RULE = (
    "      - field: Tasks\n"
    '        op: ">="\n'
    "        value: 1\n"
    '        message: "A work task has been created."\n'
)
SECOND_RULE = (
    "      - field: Status\n"
    "        op: changes\n"
    '        message: "The crew updated this request."\n'
)


def apply(**replacements: str) -> ApplyReport:
    """Apply the fixture agency file after text replacements; the report."""
    text = (AGENCY / "engine.yaml").read_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return apply_config(parse_agency_config(text, source="engine.yaml", base_dir=AGENCY))


def categories() -> dict[str, bool]:
    rows = db.session.execute(db.select(Category).order_by(Category.id)).scalars()
    return {c.remote_id: c.enabled for c in rows}


def category(remote_id: str) -> Category:
    return db.session.execute(
        db.select(Category).where(Category.remote_id == remote_id)
    ).scalar_one()


def rules() -> list[tuple[int, int, str, bool]]:
    rows = db.session.execute(db.select(Rule).order_by(Rule.position)).scalars()
    return [(r.id, r.position, r.message, r.enabled) for r in rows]


def config_events() -> list[str]:
    return list(
        db.session.execute(db.select(Event.detail).where(Event.kind == "config_loaded")).scalars()
    )


def test_the_same_file_twice_changes_nothing(app):
    before = (categories(), rules(), config_events())
    report = apply()
    assert not report.changed
    assert report.summary() == "configuration unchanged"
    assert (categories(), rules(), config_events()) == before


def test_a_changed_setting_updates_the_integration_and_says_so(app):
    report = apply(**{"by Public Works.": "by the Department of Public Works."})
    assert (report.created, report.updated, report.disabled) == (
        [],
        ["integration public-works"],
        [],
    )
    integration = db.session.execute(db.select(Integration)).scalar_one()
    assert integration.settings["acknowledgment_message"].endswith("Department of Public Works.")
    assert config_events()[-1] == "engine.yaml: updated: integration public-works"


def test_a_category_gone_from_the_file_is_disabled_not_deleted(app):
    report = apply(**{STREETLIGHT: ""})
    assert report.disabled == ["category public-works/Streetlight Out"]
    assert categories() == {"Pothole": True, "Streetlight Out": False}

    assert apply().updated == ["category public-works/Streetlight Out"]  # back in the file
    assert categories() == {"Pothole": True, "Streetlight Out": True}


def test_an_integration_gone_from_the_file_is_disabled_not_deleted(app):
    report = apply(**{"  - name: public-works\n": "  - name: roads\n"})
    assert "integration roads" in report.created
    assert "integration public-works" in report.disabled
    rows = db.session.execute(db.select(Integration.name, Integration.enabled)).all()
    assert sorted(tuple(r) for r in rows) == [("public-works", False), ("roads", True)]


def test_rules_are_kept_by_position(app):
    [(rule_id, _, _, _)] = rules()

    report = apply(**{"A work task has been created.": "A work order was opened."})
    assert report.updated == ["rule public-works#1"]
    assert rules() == [(rule_id, 0, "A work order was opened.", True)]

    report = apply(**{RULE: RULE + SECOND_RULE})
    assert report.created == ["rule public-works#2"]
    assert [(r[1], r[2]) for r in rules()] == [
        (0, "A work task has been created."),
        (1, "The crew updated this request."),
    ]


def test_a_rule_gone_from_the_file_is_disabled_with_its_history(app):
    [(rule_id, _, message, _)] = rules()
    report = apply(**{"    rules:\n" + RULE: "    rules: []\n"})
    assert report.disabled == ["rule public-works#1"]
    assert rules() == [(rule_id, 0, message, False)]


def test_a_protected_category_keeps_its_name_and_state(app):
    pothole = category("Pothole")
    pothole.protected, pothole.name, pothole.enabled = True, "Potholes (admin)", False
    db.session.commit()

    apply(
        **{
            "      - remote_id: Pothole\n": "      - remote_id: Pothole\n        name: Pothole\n",
            "A crew will inspect this pothole.": "A crew will come.",
        }
    )
    pothole = category("Pothole")
    assert (pothole.name, pothole.enabled) == ("Potholes (admin)", False)
    assert pothole.acknowledgment_message == "A crew will come."

    apply(**{"      - remote_id: Pothole\n": "      - remote_id: Other\n"})
    assert category("Pothole").enabled is False  # not touched when it leaves the file either


def test_protected_from_the_file_is_stored(app):
    apply(**{STREETLIGHT: STREETLIGHT + "        protected: true\n"})
    assert category("Streetlight Out").protected is True


def test_the_agency_row_follows_the_file(app):
    apply(
        **{
            "  name: City of New Haven\n": (
                "  name: City of New Haven\n"
                "  integration_user: New Haven DPW\n"
                "  boundary: ../boundaries/new_haven.geojson\n"
            )
        }
    )
    agency = db.session.execute(db.select(Agency)).scalar_one()
    assert agency.integration_user == "New Haven DPW"
    assert (
        Path(agency.boundary_path).resolve()
        == (AGENCY.parent / "boundaries" / "new_haven.geojson").resolve()
    )
    assert agency.crm["organization_id"] == 1234
