"""Staff dashboard: sync health, issue lists, the timeline of one issue."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from integrations.errors import IntegrationError

from ...models import SyncState
from ...sync import dashboard_queries, engine, preflight

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    return render_template(
        "dashboard/index.html", overview=dashboard_queries.overview(), states=SyncState.ALL
    )


@bp.get("/issues")
def issues():
    state = request.args.get("state") or None
    integration = request.args.get("integration") or None
    page = request.args.get("page", 1, type=int)
    if state and state not in (*SyncState.ALL, "skipped"):
        abort(400, f"unknown state {state!r}")
    pagination = dashboard_queries.issue_page(
        state=state, integration=integration, page=max(page, 1)
    )
    return render_template(
        "dashboard/issues.html",
        pagination=pagination,
        state=state,
        integration=integration,
        states=(*SyncState.ALL, "skipped"),
        integrations=[s.integration.name for s in dashboard_queries.integration_summaries()],
    )


@bp.get("/issues/<int:issue_id>")
def issue(issue_id: int):
    found, links, timeline = dashboard_queries.issue_detail(issue_id)
    if found is None:
        abort(404, f"issue {issue_id} is not known to Crosswalk")
    return render_template("dashboard/issue.html", issue=found, links=links, timeline=timeline)


@bp.post("/links/<int:link_id>/retry")
def retry(link_id: int):
    try:
        outcome = engine.retry(link_id)
    except engine.LinkNotFoundError as exc:
        abort(404, str(exc))
    if outcome.queued:
        flash(f"Push of issue {outcome.link.issue_id} queued again.")
    return redirect(url_for("dashboard.issue", issue_id=outcome.link.issue_id))


@bp.route("/check", methods=["GET", "POST"])
def check():
    """The preflight: GET offers the button, POST runs every check (read-only
    against the vendors) and shows the table. A plain form: the checks change
    nothing, and sign-in comes with a later issue."""
    if request.method == "GET":
        return render_template("dashboard/check.html", checks=None)
    try:
        checks = engine.run_preflight()
    except IntegrationError as exc:  # no configuration loaded
        return render_template("dashboard/check.html", checks=None, error=str(exc)), 409
    return render_template(
        "dashboard/check.html",
        checks=checks,
        status=preflight.status,
        summary=preflight.summary(checks),
        failed=any(preflight.status(c) == "FAIL" for c in checks),
    )


@bp.get("/healthz")
def healthz():
    return {"ok": True, "queue": current_app.task_queue.mode}
