"""The Lucity preflight (``crosswalk check``) against the simulator: with the
defaults every check passes; each misnamed setting fails exactly the check
that names it, with the vendor's words; no check ever writes."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.base import Check
from integrations.registry import connector_class
from tests.simcontrol.lucity import LucityControl, LucityWorkOrderControl, LucityWorkRequestControl


@pytest.fixture
def requests_sim(simulators) -> LucityWorkRequestControl:
    control = LucityWorkRequestControl.for_simulators(simulators)
    control.reset()
    # A record carrying an external id, with a public comment and a document:
    # every check has something to read.
    record = control.staff_create(ProblemCode="WB", User20="4242", minutes_ago=5)
    control.vendor_comment(str(record["AutoNumber"]), "Crew dispatched.", public=True)
    control.vendor_document(str(record["AutoNumber"]), "https://eam.example/a.jpg", public=True)
    return control


@pytest.fixture
def orders_sim(simulators) -> LucityWorkOrderControl:
    control = LucityWorkOrderControl.for_simulators(simulators)
    control.reset()
    record = control.staff_create(ProblemCode="FAC", User20="4243")
    control.vendor_comment(str(record["AutoNumber"]), "Door rehung.", public=True)
    return control


def preflight(
    control: LucityControl, environ: dict[str, str] | None = None, **overrides: Any
) -> list[Check]:
    cls = connector_class(control.kind)
    settings = cls.settings_model.model_validate(control.connector_settings(**overrides))
    connector = cls(settings, environ=environ or control.environ())
    control.clear_calls()
    try:
        return connector.preflight()
    finally:
        connector.close()
        # Read-only: nothing but GETs reached the server, whatever failed.
        assert [c for c in control.calls() if c["method"] != "GET"] == []


def failures(checks: list[Check]) -> dict[str, str]:
    """The failing checks' settings, each with the vendor's words."""
    return {c.setting or "(none)": c.detail for c in checks if not c.ok}


def test_the_defaults_pass_every_check_on_the_documented_server(requests_sim):
    checks = preflight(requests_sim)

    assert failures(checks) == {}
    names = [c.name for c in checks]
    assert names[0].startswith("internal API sign-in")
    for expected in (
        "FILTER table WKREQ",
        "FILTER column RQ_NUMBER",  # the documented column name
        "FILTER column RQ_ID",
        "FILTER column RQ_STAT_CD",
        "FILTER column RQ_ENTRY_DT",
        "FILTER column RQ_EXTERNAL_ID",
        "external-id property User20",
    ):
        assert expected in names
    assert any(n.startswith("comments of record") for n in names)
    assert any(n.startswith("documents of record") for n in names)  # import_images is on
    assert names[-1].startswith("problem-code lookup LookupList/Request.svc/ProblemCode/")
    assert checks[-1].detail == "5 problem codes offered"
    assert {c.system for c in checks} == {
        "contract-lucity-work-requests (CentralSquare EAM (Lucity) Work Requests)"
    }
    assert all(c.setting is None for c in checks)


SETTING = "integrations[contract-lucity-work-requests]."


@pytest.mark.parametrize(
    "overrides, setting, words",
    [
        pytest.param(
            {"columns": {"request_external_id": "RQ_EXT_ID"}},
            "columns.request_external_id",
            "Invalid column name 'RQ_EXT_ID' for table WKREQ.",
            id="external-id column",
        ),
        pytest.param(
            {"columns": {"request_number": "RQ_NUM"}},
            "columns.request_number",
            "Invalid column name 'RQ_NUM'",
            id="the undocumented RQ_NUM",
        ),
        pytest.param(
            {"columns": {"request_entry_date": "RQ_ENTERED"}},
            "columns.request_entry_date",
            "Invalid column name 'RQ_ENTERED'",
            id="entry-date column",
        ),
        pytest.param(
            {"columns": {"request_table": "WKREQUEST"}},
            "columns.request_table",
            "WKREQUEST",
            id="table",
        ),
        pytest.param(
            {"paths": {"request_comments": "Work/Requests.svc/{auto}/Notes"}},
            "paths.request_comments",
            "No HTTP resource was found",
            id="comments path",
        ),
        pytest.param(
            {"paths": {"request_documents": "Work/Requests.svc/{auto}/Docs"}},
            "paths.request_documents",
            "No HTTP resource was found",
            id="documents path",
        ),
        pytest.param(
            {"paths": {"problem_code_lookup": "LookupList/Request.svc/Problem/?311Only=true"}},
            "paths.problem_code_lookup",
            "No lookup list for property 'Problem'",
            id="problem-code lookup",
        ),
        pytest.param(
            {"external_id_property": "User19"},
            "external_id_property",
            "has RQ_EXTERNAL_ID set but no property User19 (User properties: User20)",
            id="external-id property",
        ),
        pytest.param(
            {"public_property": "IsPublic"},
            "public_property",
            "a row has no property IsPublic",
            id="publicly-available property",
        ),
    ],
)
def test_a_misnamed_setting_fails_its_check_by_name(requests_sim, overrides, setting, words):
    failed = failures(preflight(requests_sim, **overrides))

    assert list(failed) == [SETTING + setting]
    assert words in failed[SETTING + setting]


def test_wrong_credentials_name_the_credential_settings(requests_sim):
    environ = {**requests_sim.environ(), "LUCITY_PASSWORD": "wrong"}
    checks = preflight(requests_sim, environ=environ)

    assert failures(checks) == {
        SETTING + "username_env / password_env": "Authorization has been denied for this request."
    }
    # Nothing else on the internal API is tried; the citizen lookup needs no sign-in.
    assert [c.ok for c in checks] == [False, True]


@pytest.mark.parametrize(
    "overrides, setting, words",
    [
        pytest.param(
            {"internal_endpoints": {"test": "http://127.0.0.1:9/LucityWebAPI"}},
            "internal_endpoints",
            "could not connect",
            id="internal API unreachable",
        ),
        pytest.param(
            {"paths": {"requests": "Work/Request.svc/"}},
            "paths.requests",
            "No HTTP resource was found",
            id="module path",
        ),
    ],
)
def test_an_unreachable_module_stops_the_internal_checks(requests_sim, overrides, setting, words):
    checks = preflight(requests_sim, **overrides)

    failed = failures(checks)
    assert list(failed) == [SETTING + setting] and words in failed[SETTING + setting]
    assert len(checks) == 2  # the sign-in, then the citizen lookup


def test_an_empty_server_is_not_a_failure(requests_sim):
    requests_sim.reset()  # no records: the child paths and the property are not checked
    checks = preflight(requests_sim)

    assert failures(checks) == {}
    not_checked = [c.detail for c in checks if c.detail.startswith("not checked")]
    assert len(not_checked) == 3  # the external-id property, comments, documents


def test_work_orders_check_their_own_module(orders_sim):
    checks = preflight(orders_sim)
    assert failures(checks) == {}
    names = [c.name for c in checks]
    assert "FILTER table WKORDER" in names and "FILTER column WO_EXTERNAL_ID" in names
    assert not any("lookup" in n or "documents" in n for n in names)

    failed = failures(preflight(orders_sim, columns={"work_order_status": "WO_STATUS"}))
    setting = "integrations[contract-lucity-work-orders].columns.work_order_status"
    assert list(failed) == [setting] and "Invalid column name 'WO_STATUS'" in failed[setting]
