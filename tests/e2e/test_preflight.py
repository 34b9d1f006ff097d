"""``crosswalk check`` against the simulators over real HTTP: every configured
name is tried, a misnamed class, field or filter column fails naming its
setting with the vendor's words, and nothing is ever written to a vendor —
as the engine entry point, as the command, and as the dashboard page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests

from integrations.base import Check
from tests.conftest import BOUNDARIES, SECRETS, agency_yaml, make_app, write_agency_file
from webapp.agency_config import parse_agency_config
from webapp.sync import engine, preflight
from webapp.sync.configure import apply_config

CROSSWALK = str(Path(sys.executable).with_name("crosswalk"))
PW = "integrations[public-works]"
SYSTEMS = ("scf", "cg", "arcgis")


def configured(sim, **replacements: str) -> str:
    """The end-to-end agency file with text replaced (each must be present)."""
    text = agency_yaml(sim.sims)
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def load(sim, **replacements: str) -> None:
    apply_config(parse_agency_config(configured(sim, **replacements), base_dir=BOUNDARIES))


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


def named(checks: list[Check], prefix: str) -> Check:
    [found] = [c for c in checks if c.name.startswith(prefix)]
    return found


def writes(sim) -> list[dict]:
    return [c for system in SYSTEMS for c in sim.calls(system) if c["method"] != "GET"]


def test_every_configured_name_passes_and_nothing_is_written(app, sim):
    issue_id = sim.create_issue()["id"]  # its location is the point geocoded
    for system in SYSTEMS:
        sim.systems[system].clear_calls()
    with app.app_context():
        checks = engine.run_preflight()
    assert failures(checks) == []
    assert writes(sim) == []
    assert f"read issue {issue_id}" in named(checks, "sign in and list one issue").detail
    assert named(checks, "request type 122").ok
    geocoded = named(checks, "reverse geocode a CRM issue's location")
    assert "New Haven" in geocoded.detail
    # Every name the agency configured got its own line, naming its setting.
    settings = {c.setting for c in checks}
    for key in (
        "request_class",
        "external_id_field",
        "comments_field",
        "categories[Pothole].custom_fields.PriorityField",
        "categories[Pothole].custom_fields.DepthField",
        "rules[0].field",
        "requester_class",
        "comment_parent_field",
        "comment_text_field",
        "comment_public_field",
        "category_class",
        "service_area_field",
        "import_requests",
    ):
        assert f"{PW}.{key}" in settings, key
    # One record per probe (the mapped categories are one filtered query), one
    # CRM issue, and the geocoder asked to store what it answered.
    limits = [parse_qs(c["query_string"])["limit"] for c in sim.calls("cg")]
    assert limits.count(["1000"]) == 1 and set(map(tuple, limits)) == {("1",), ("1000",)}
    assert parse_qs(sim.calls("scf")[0]["query_string"])["per_page"] == ["1"]
    [geocode] = sim.calls("arcgis")
    assert parse_qs(geocode["query_string"])["forStorage"] == ["true"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(  # a filter column: the lookup before every create
            "    timeout: 3\n",
            "    timeout: 3\n    external_id_field: SeeClickFixIDFeld\n",
            {f"{PW}.external_id_field"},
            id="filter column",
        ),
        pytest.param(
            "PriorityField: Normal",
            "PriortyField: Normal",
            {f"{PW}.categories[Pothole].custom_fields.PriortyField"},
            id="field",
        ),
        pytest.param(
            "    timeout: 3\n",
            "    timeout: 3\n    category_class: cgRequestIssueClass\n",
            {f"{PW}.category_class"},
            id="class",
        ),
        pytest.param(  # the request class; the comment class named after it goes too
            "    timeout: 3\n",
            "    timeout: 3\n    request_class: cgRequestClass\n",
            {f"{PW}.request_class", f"{PW}.comment_class / {PW}.comment_query"},
            id="request class",
        ),
        pytest.param(
            "    comment_query: batch\n",
            "    comment_query: batch\n    comment_parent_field: ParentId\n",
            {f"{PW}.comment_parent_field"},
            id="comment filter column",
        ),
    ],
)
def test_a_misnamed_name_fails_naming_its_setting(app, sim, old, new, expected):
    with app.app_context():
        load(sim, **{old: new})
        checks = engine.run_preflight()
    failed = failures(checks)
    assert {c.setting for c in failed} == expected
    for check in failed:  # Cartegraph's own words
        assert check.detail.startswith("Cartegraph: HTTP 4"), check.detail
        assert "does not exist" in check.detail, check.detail
    assert writes(sim) == []


def test_a_misnamed_category_fails_naming_it(app, sim):
    with app.app_context():
        load(sim, **{"remote_id: Streetlight Out": "remote_id: Streetlight Outage"})
        checks = engine.run_preflight()
    [failed] = failures(checks)
    assert failed.setting == f"{PW}.categories[Streetlight Outage].remote_id"
    assert "'Streetlight Outage'" in failed.detail


def test_comments_at_the_documented_child_path(app, sim):
    """The default comment_query reads a request's comments at
    /classes/cgRequestsClass/{Oid}/cgRequests_cgCommentsClass: the check needs a
    request to read them under, and says so when there is none."""
    with app.app_context():
        load(sim, **{"    comment_query: batch\n": ""})
        before = named(engine.run_preflight(), "comment class")
        assert preflight.status(before) == "skip" and "no request yet" in before.detail
        oid = sim.cg_staff_create("cgRequestsClass", IssueField="Pothole")["Oid"]
        checks = engine.run_preflight()
        assert failures(checks) == []
        assert named(checks, "comment class").name == (
            f"comment class cgRequests_cgCommentsClass (child of request {oid})"
        )
        load(
            sim,
            **{
                "    comment_query: batch\n": "    comment_class: cgRequestsClass_cgCommentsClass\n"
            },
        )
        [failed] = failures(engine.run_preflight())
    assert failed.setting == f"{PW}.comment_class"
    assert "cgRequestsClass_cgCommentsClass" in failed.detail
    assert f"/classes/cgRequestsClass/{oid}/cgRequests_cgCommentsClass" in {
        c["path"].split("/api/v1", 1)[-1] for c in sim.calls("cg")
    }


def test_requester_modes(app, sim):
    with app.app_context():
        load(sim, **{"    timeout: 3\n": "    timeout: 3\n    requester_class: cgRequesterClass\n"})
        [failed] = failures(engine.run_preflight())
        assert failed.setting == f"{PW}.requester_class"
        load(sim, **{"    timeout: 3\n": "    timeout: 3\n    requester: fixed\n"})
        sim.cartegraph.clear_calls()
        checks = engine.run_preflight()
    line = named(checks, "requester (fixed)")
    assert preflight.status(line) == "skip" and "'SeeClickFix'" in line.detail
    assert failures(checks) == []
    assert not [c for c in sim.calls("cg") if "Requester" in c["path"]]


def test_a_wrong_crm_token_fails_naming_the_setting(app, sim):
    app.config["CROSSWALK_ENVIRON"] = {**SECRETS, "SCF_TOKEN": "not-the-token"}
    with app.app_context():
        checks = engine.run_preflight()
    crm = [c for c in checks if c.system == "SeeClickFix"]
    assert [(c.ok, c.setting) for c in crm] == [(False, "crm.token_env")]
    assert "HTTP 401" in crm[0].detail and "not-the-token" not in crm[0].detail
    # The other systems are still checked.
    assert [c for c in failures(checks) if c.system != "SeeClickFix"] == []


def test_a_refused_sign_in_stops_the_integration_checks(app, sim):
    app.config["CROSSWALK_ENVIRON"] = {**SECRETS, "CG_PASSWORD": "not-the-password"}
    with app.app_context():
        checks = engine.run_preflight()
    cartegraph = [c for c in checks if c.system == "public-works (OpenGov EAM (Cartegraph))"]
    assert [(c.name, c.ok) for c in cartegraph] == [("sign in (HTTP Basic)", False)]
    assert cartegraph[0].setting == f"{PW}.username_env / {PW}.password_env"
    assert "Authentication Required for API Access." in cartegraph[0].detail


def test_an_unset_secret_fails_naming_its_setting(app, sim):
    app.config["CROSSWALK_ENVIRON"] = {k: v for k, v in SECRETS.items() if k != "CG_PASSWORD"}
    with app.app_context():
        [failed] = failures(engine.run_preflight())
    assert failed.setting == f"{PW}.password_env" and "CG_PASSWORD" in failed.detail


@pytest.mark.parametrize(
    ("fault", "setting", "words"),
    [
        ({"token": "s3cret"}, "geocoder.token_env", "Token Required"),
        (None, "geocoder.url", "500"),
    ],
)
def test_a_geocoder_error_fails_naming_the_setting(app, sim, fault, setting, words):
    sim.create_issue()
    if fault:
        requests.post(f"{sim.arcgis}/_sim/config", json=fault, timeout=5)
    else:
        sim.fault("arcgis", status=500, path_contains="reverseGeocode")
    with app.app_context():
        [failed] = failures(engine.run_preflight())
    assert failed.system == "ArcGIS geocoder" and failed.setting == setting
    assert words in failed.detail


# -- the command ---------------------------------------------------------------------
@pytest.fixture
def env(database_url, tmp_path):
    make_app(database_url, None)  # migrated and empty
    return {
        **os.environ,
        **SECRETS,
        "DATABASE_URL": database_url,
        "CROSSWALK_INSTANCE": str(tmp_path / "instance"),
    }


def crosswalk(*args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CROSSWALK, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_command_prints_the_table_and_exits_1_on_a_failure(env, sim, tmp_path):
    good = write_agency_file(tmp_path, sim.sims)
    assert crosswalk("config", "load", str(good), env=env, cwd=tmp_path).returncode == 0
    passed = crosswalk("check", env=env, cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    lines = passed.stdout.splitlines()
    assert lines[0].split() == ["SYSTEM", "CHECK", "RESULT", "DETAIL", "[SETTING]"]
    assert any(line.startswith("SeeClickFix") and "  ok  " in line for line in lines)
    assert ", 0 failed," in lines[-1]

    text = configured(sim, **{"    timeout: 3\n": "    timeout: 3\n    external_id_field: ScfId\n"})
    bad = write_agency_file(tmp_path, sim.sims, text)
    assert crosswalk("config", "load", str(bad), env=env, cwd=tmp_path).returncode == 0
    failed = crosswalk("check", env=env, cwd=tmp_path)
    assert failed.returncode == 1
    [line] = [line for line in failed.stdout.splitlines() if "  FAIL  " in line]
    assert "external id field ScfId" in line and "does not exist" in line
    assert line.endswith(f"[{PW}.external_id_field]")
    assert "1 failed" in failed.stdout.splitlines()[-1]


def test_the_command_without_a_configuration_says_so(env, tmp_path):
    result = crosswalk("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "crosswalk config load" in result.stderr


def test_config_load_warns_when_the_world_geocoder_has_no_token(env, sim, tmp_path):
    text = configured(sim, **{f"  url: {sim.sims.arcgis_url}\n": ""})  # the World default
    path = write_agency_file(tmp_path, sim.sims, text)
    result = crosswalk("config", "load", str(path), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert "geocoder.token_env: the ArcGIS World geocoding service requires an access token" in (
        warning
    )
    assert "created" in result.stdout


# -- the dashboard page -----------------------------------------------------------------
def test_the_page_runs_the_checks_and_shows_the_table(app, client, sim):
    page = client.get("/check").get_data(as_text=True)
    assert "Run the checks" in page and 'data-testid="checks"' not in page
    assert 'href="/check"' in client.get("/").get_data(as_text=True)  # in the navigation
    with app.app_context():
        load(sim, **{"PriorityField: Normal": "PriortyField: Normal"})
    shown = client.post("/check")
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert 'data-testid="checks"' in html and "1 failed" in html
    assert html.count('data-result="FAIL"') == 1
    assert f"<code>{PW}.categories[Pothole].custom_fields.PriortyField</code>" in html
    assert "does not exist" in html
    assert writes(sim) == []
