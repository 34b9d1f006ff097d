"""The file and the console together, nothing lost: `config load` keeps what
an admin changed in the console (and lists each difference with the file's
line) unless told to overwrite; `config export` writes file + console edits
as a file `config load` takes unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import BOUNDARIES, SECRETS, agency_yaml, write_agency_file
from webapp.agency_config import parse_agency_config
from webapp.cli import cli
from webapp.extensions import db
from webapp.models import AuditEntry, Category, ConsoleEdit, Integration, Rule
from webapp.sync import engine
from webapp.sync.audit import Actor
from webapp.sync.configure import apply_config

ADA = Actor("ada.admin@example.gov")
FILE_ACK = "Your request has been received by Public Works."
CONSOLE_ACK = "Public Works has your report: thank you."


def crosswalk(app, *args: str):
    result = app.test_cli_runner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def agency_file(tmp_path: Path, sim, **replacements: str) -> Path:
    text = agency_yaml(sim.sims)
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return write_agency_file(tmp_path, sim.sims, text)


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def state(app) -> dict:
    """The configuration as stored (what a load must keep or change)."""
    with app.app_context():
        db.session.expire_all()
        return {
            "integrations": [
                (i.name, i.enabled, i.settings)
                for i in db.session.execute(
                    db.select(Integration).order_by(Integration.id)
                ).scalars()
            ],
            "categories": [
                (
                    c.remote_id,
                    c.crm_request_type_id,
                    c.acknowledgment_message,
                    c.closing_message,
                    c.internal,
                    c.private,
                    c.protected,
                    c.enabled,
                    c.configured,
                    c.custom_fields,
                )
                for c in db.session.execute(db.select(Category).order_by(Category.id)).scalars()
            ],
            "rules": [
                (
                    r.position,
                    r.field,
                    r.op,
                    r.value,
                    r.from_value,
                    r.message,
                    r.categories,
                    r.enabled,
                )
                for r in db.session.execute(db.select(Rule).order_by(Rule.id)).scalars()
            ],
        }


def edit_in_console(app) -> None:
    with app.app_context():
        assert engine.save_integration_messages(ADA, 1, {"acknowledgment_message": CONSOLE_ACK}).ok
        first = db.session.execute(db.select(Rule).where(Rule.position == 0)).scalar_one()
        form = engine.RuleInput(
            integration_id=1,
            field="TasksField",
            op=">=",
            value="1",
            message="A crew has been assigned.",
            categories=["Pothole"],
        )
        assert engine.save_rule(ADA, first.id, form).ok


def test_load_keeps_console_edits_lists_them_and_applies_the_rest(app, sim, tmp_path):
    edit_in_console(app)
    path = agency_file(
        tmp_path,
        sim,
        **{
            "Public Works has completed this request.": "Public Works finished this request.",
            '"A crew is on the way."': '"A crew is coming."',
        },
    )
    result = crosswalk(app, "config", "load", str(path))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "integration public-works, rule public-works#2" in out
    assert "2 console edit(s) kept over the file" in out
    ack_line = line_of(path, 'acknowledgment_message: "Your request')
    assert (
        f'integration public-works acknowledgment_message: file "{FILE_ACK}" '
        f'(integrations[0].acknowledgment_message, line {ack_line}), console "{CONSOLE_ACK}" '
        "(set by ada.admin@example.gov on " in out
    )
    rule_line = line_of(path, 'message: "A work task has been created."')
    assert (
        'rule public-works#1 message: file "A work task has been created." '
        f"(integrations[0].rules[0].message, line {rule_line}), console "
        '"A crew has been assigned."' in out
    )
    assert "the console's value kept" in out
    with app.app_context():
        pw = db.session.get(Integration, 1)
        assert pw.settings["acknowledgment_message"] == CONSOLE_ACK  # kept
        assert pw.settings["closing_message"] == "Public Works finished this request."  # applied
        rules = db.session.execute(db.select(Rule).order_by(Rule.position)).scalars().all()
        assert [r.message for r in rules] == ["A crew has been assigned.", "A crew is coming."]

    again = crosswalk(app, "config", "load", str(path))
    assert "configuration unchanged; 2 console edit(s) kept over the file" in again.output

    overwrite = crosswalk(app, "config", "load", "--overwrite-console-edits", str(path))
    assert overwrite.exit_code == 0
    assert "2 console edit(s) overwritten by the file" in overwrite.output
    assert "Console edits overwritten by the file:" in overwrite.output
    with app.app_context():
        assert db.session.get(Integration, 1).settings["acknowledgment_message"] == FILE_ACK
        first = db.session.execute(db.select(Rule).where(Rule.position == 0)).scalar_one()
        assert first.message == "A work task has been created."
        assert db.session.execute(db.select(ConsoleEdit)).scalars().all() == []
        audits = db.session.execute(
            db.select(AuditEntry.actor, AuditEntry.action).where(
                AuditEntry.action.like("%.overwrite")
            )
        ).all()
        assert sorted(audits) == [
            ("config load", "integration.overwrite"),
            ("config load", "rule.overwrite"),
        ]
    assert "configuration unchanged" in crosswalk(app, "config", "load", str(path)).output


def test_a_file_that_says_the_same_takes_the_edit_over(app, sim, tmp_path):
    edit_in_console(app)
    path = agency_file(tmp_path, sim, **{FILE_ACK: CONSOLE_ACK})
    out = crosswalk(app, "config", "load", str(path)).output
    assert "acknowledgment_message" not in out  # agrees: not a difference
    with app.app_context():
        assert set(db.session.execute(db.select(ConsoleEdit.field)).scalars()) == {"message"}
    # From now on the file speaks for that key: a later change applies.
    path = agency_file(tmp_path, sim, **{FILE_ACK: "Changed in the file later."})
    crosswalk(app, "config", "load", str(path))
    with app.app_context():
        assert db.session.get(Integration, 1).settings["acknowledgment_message"] == (
            "Changed in the file later."
        )


def test_console_additions_the_file_lacks_are_kept(app, sim, tmp_path):
    with app.app_context():
        form = engine.RuleInput(
            integration_id=1, field="NotesField", op="is not empty", message="A note was added."
        )
        new_rule = engine.save_rule(ADA, None, form).row_id
        graffiti = Category(integration_id=1, remote_id="Graffiti", configured=False)
        db.session.add(graffiti)
        db.session.commit()
        assert engine.save_category(ADA, graffiti.id, {"crm_request_type_id": 124}).ok
    path = agency_file(tmp_path, sim)
    out = crosswalk(app, "config", "load", str(path)).output
    assert "rule public-works#3: not in the file (integrations[0].rules, line" in out
    assert "edited in the console (categories, enabled, field, from, message, op, value; by " in out
    assert "category public-works/Graffiti: not in the file" in out
    with app.app_context():
        assert db.session.get(Rule, new_rule).enabled is True
        graffiti = db.session.execute(
            db.select(Category).where(Category.remote_id == "Graffiti")
        ).scalar_one()
        assert (graffiti.enabled, graffiti.crm_request_type_id) == (True, 124)

    out = crosswalk(app, "config", "load", "--overwrite-console-edits", str(path)).output
    assert "disabled: rule public-works#3, category public-works/Graffiti" in out
    with app.app_context():
        assert db.session.get(Rule, new_rule).enabled is False


def test_a_rule_disabled_in_the_console_stays_off_and_the_file_may_say_so(app, sim, tmp_path):
    with app.app_context():
        second = db.session.execute(db.select(Rule).where(Rule.position == 1)).scalar_one()
        engine.set_rule_enabled(ADA, second.id, False)
    path = agency_file(tmp_path, sim)
    out = crosswalk(app, "config", "load", str(path)).output
    assert "rule public-works#2 enabled: file true" in out and "console false" in out
    off = 'message: "A crew is on the way."\n        enabled: false'
    path = agency_file(tmp_path, sim, **{'message: "A crew is on the way."': off})
    out = crosswalk(app, "config", "load", str(path)).output
    assert "console edit" not in out
    with app.app_context():
        assert db.session.execute(db.select(ConsoleEdit)).scalars().all() == []


def all_kinds_of_console_edits(app) -> None:
    edit_in_console(app)
    with app.app_context():
        form = engine.RuleInput(
            integration_id=1, field="StatusField", op="=", value='"2"', message="Two?"
        )
        assert engine.save_rule(ADA, None, form).ok
        second = db.session.execute(db.select(Rule).where(Rule.position == 1)).scalar_one()
        engine.set_rule_enabled(ADA, second.id, False)
        graffiti = Category(integration_id=1, remote_id="Graffiti", name="Graffiti removal")
        db.session.add(graffiti)
        db.session.commit()
        assert engine.save_category(
            ADA, graffiti.id, {"crm_request_type_id": 124, "private": True, "protected": False}
        ).ok
        pothole = db.session.execute(
            db.select(Category).where(Category.remote_id == "Pothole")
        ).scalar_one()
        assert engine.save_category(
            ADA, pothole.id, {"closing_message": "Patched: drive safely."}
        ).ok


def test_export_then_load_is_a_round_trip(app, sim, tmp_path):
    crosswalk(app, "config", "load", str(agency_file(tmp_path, sim)))  # the operator's file
    all_kinds_of_console_edits(app)
    before = state(app)
    exported = tmp_path / "exported.yaml"
    result = crosswalk(app, "config", "export", str(exported))
    assert result.exit_code == 0, result.output
    text = exported.read_text()
    assert "token_env: SCF_TOKEN" in text and "password_env: CG_PASSWORD" in text
    secrets = [SECRETS[name] for name in ("SCF_TOKEN", "SCF_WEBHOOK_SECRET", "CG_PASSWORD")]
    assert not any(secret in text for secret in secrets)  # names, never values
    assert "boundary: new_haven.geojson" in text  # beside the file: relative
    assert CONSOLE_ACK in text and "A crew has been assigned." in text
    assert "enabled: false" in text and "remote_id: Graffiti" in text

    loaded = crosswalk(app, "config", "load", str(exported))
    assert loaded.exit_code == 0, loaded.output
    assert loaded.output.strip().endswith("configuration unchanged"), loaded.output
    assert "console" not in loaded.output  # no differences to list
    assert state(app) == before
    with app.app_context():  # every console edit is in the file now
        assert db.session.execute(db.select(ConsoleEdit)).scalars().all() == []

    crosswalk(app, "config", "export", str(exported))
    assert exported.read_text() == text
    # To the standard output the boundary is absolute: where the text goes is unknown.
    boundary = (tmp_path / "new_haven.geojson").resolve()
    stdout = crosswalk(app, "config", "export").output
    assert stdout == text.replace("boundary: new_haven.geojson", f"boundary: {boundary}")


def test_export_of_the_lucity_agency_loads_unchanged(app, sim):
    with app.app_context():
        apply_config(parse_agency_config(agency_yaml(sim.sims, "lucity.yaml"), base_dir=BOUNDARIES))
        water = db.session.execute(
            db.select(Integration).where(Integration.name == "water")
        ).scalar_one()
        engine.save_integration_messages(
            ADA, water.id, {}, {"999": "All done.", "951": "Canceled.", "960": "Closed."}
        )
        before = state(app)
        text = engine.export_config(BOUNDARIES)
        assert "name: public-works" not in text  # dropped by the Lucity file: not exported
        assert re.search(r"closing_messages:\n\s+'999': All done.", text)
        report = apply_config(parse_agency_config(text, base_dir=BOUNDARIES))
        assert (report.summary(), report.differences) == ("configuration unchanged", [])
        assert state(app) == before
        assert engine.export_config(BOUNDARIES) == text


@pytest.mark.parametrize("where", ["stdout"])
def test_export_needs_a_loaded_configuration(tmp_path, where):
    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'empty.db'}", None)
    result = app.test_cli_runner().invoke(cli, ["config", "export"])
    assert result.exit_code == 1
    assert "no agency configuration loaded" in result.output
