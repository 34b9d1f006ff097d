"""The sync-lag page, with data from the simulators: an issue pushed and
acknowledged, then closed by the crew, appears in the charts and the table."""

from __future__ import annotations

from tests.support import integration_id, link_of, queue_crm_poll, run_jobs
from webapp.sync import remote_poll


def test_the_lag_page_charts_a_synced_issue(app, client, sim):
    issue_id = sim.create_issue(request_type_id=122, summary="Pothole", description="Deep")["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        remote_id = link_of(issue_id).remote_id
    sim.cg_patch(int(remote_id), StatusField="Closed")
    with app.app_context():
        assert remote_poll.poll_integration(integration_id()).closed == 1

    html = client.get("/lag").get_data(as_text=True)

    assert html.count('<svg class="chart"') >= 3
    assert "public-works: report to acknowledgment" in html
    assert "<td>1</td><td>1</td><td>0</td>" in html  # created, closed, failed today
