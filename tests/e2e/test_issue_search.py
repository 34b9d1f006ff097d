"""Finding issues: search by CRM id, remote request number, address or text;
the filtered list as CSV (every row, formulas neutralised)."""

from __future__ import annotations

import csv
import io

from tests.support import link_of, queue_crm_poll, run_jobs


def pushed(app, sim, **fields) -> int:
    issue_id = sim.create_issue(request_type_id=122, summary="Pothole", **fields)["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
    return issue_id


def listed(client, **params) -> str:
    return client.get("/issues", query_string=params).get_data(as_text=True)


def test_search_by_id_number_address_and_text(app, client, sim):
    deep = pushed(app, sim, description="Deep hole by the bus stop", address="165 Church St")
    other = pushed(app, sim, description="Small crack", address="1 Elm St")
    with app.app_context():
        number = link_of(deep).remote_display_id

    def found(q: str) -> set[int]:
        html = listed(client, q=q)
        return {i for i in (deep, other) if f'/issues/{i}"' in html}

    assert found(str(deep)) == {deep}
    assert found(number) == {deep}
    assert found("church st") == {deep}  # the reported address, any case
    assert found("BUS STOP") == {deep}  # the description
    assert found("Elm") == {other}
    assert found("100%_") == set()  # LIKE wildcards are text, not patterns
    assert "No issues match “nothing like this”" in listed(client, q="nothing like this")


def test_csv_export_of_the_filtered_list(app, client, sim):
    deep = pushed(
        app, sim, description='=HYPERLINK("http://evil.example")', address="165 Church St"
    )
    pushed(app, sim, description="Small crack", address="1 Elm St")

    response = client.get("/issues.csv", query_string={"q": "church"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'attachment; filename="crosswalk-issues-' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["crm_issue_id"]) for r in rows] == [deep]
    assert rows[0]["sync_state"] == "acknowledged" and rows[0]["remote_request"]
    assert rows[0]["reported_address"] == "165 Church St"
    assert rows[0]["reported_at_utc"].endswith("+00:00")


def test_csv_cells_that_look_like_formulas_are_neutralised(app, client, sim):
    pushed(app, sim, description="x", address="=1+1")
    rows = list(csv.DictReader(io.StringIO(client.get("/issues.csv").get_data(as_text=True))))
    assert rows[0]["reported_address"] == "'=1+1"


def test_the_export_link_keeps_the_filters(client):
    html = listed(client, q="church", state="acknowledged")
    assert 'href="/issues.csv?state=acknowledged&amp;q=church"' in html


def test_staff_export_but_nobody_signed_out(staff_client, anon_client):
    assert staff_client.get("/issues.csv").status_code == 200
    assert anon_client.get("/issues.csv").status_code in (302, 401)
