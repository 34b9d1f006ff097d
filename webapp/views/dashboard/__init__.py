"""Staff dashboard: sync health, issue lists, the timeline of one issue."""

import csv
import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from integrations.errors import IntegrationError

from ...auth import current_actor
from ...auth.roles import staff_required
from ...models import DATABASE_INT_MAX, SyncState, utcnow
from ...sync import dashboard_queries, engine, preflight

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    return render_template(
        "dashboard/index.html", overview=dashboard_queries.overview(), states=SyncState.ALL
    )


@bp.get("/issues")
def issues():
    """The issue list, paged by where a page ended: ``?after=<issue id>`` (older)
    and ``?before=<issue id>`` (newer). A link stays right as issues arrive;
    an old ``?page=N`` link shows the first page."""
    state, integration, q = _list_filters()
    pagination = dashboard_queries.issue_page(
        state=state,
        integration=integration,
        q=q,
        after=_issue_id_arg("after"),
        before=_issue_id_arg("before"),
    )
    return render_template(
        "dashboard/issues.html",
        pagination=pagination,
        state=state,
        integration=integration,
        q=q,
        states=(*SyncState.ALL, "skipped"),
        integrations=dashboard_queries.integration_names(),
    )


def _issue_id_arg(name: str) -> int | None:
    """A page anchor (an issue id); a number no issue id can be is a 404, not
    a database error."""
    value = request.args.get(name, type=int)
    if value is not None and not 0 < value <= DATABASE_INT_MAX:
        abort(404, f"no issue {value}")
    return value


def _list_filters() -> tuple[str | None, str | None, str | None]:
    state = request.args.get("state") or None
    integration = request.args.get("integration") or None
    q = (request.args.get("q") or "").strip() or None
    if state and state not in (*SyncState.ALL, "skipped"):
        abort(400, f"unknown state {state!r}")
    return state, integration, q


@bp.get("/issues.csv")
def issues_csv():
    """The filtered list as CSV (every matching row, not one page), streamed."""
    state, integration, q = _list_filters()
    rows = dashboard_queries.export_rows(state=state, integration=integration, q=q)

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(dashboard_queries.EXPORT_COLUMNS)
        for count, row in enumerate(rows, 1):
            writer.writerow([_csv_cell(value) for value in row])
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="crosswalk-issues-{stamp}.csv"'},
    )


def _csv_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula (residents write the
    descriptions and addresses) is prefixed with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.get("/issues/<int:issue_id>")
def issue(issue_id: int):
    found, links, timeline = dashboard_queries.issue_detail(issue_id)
    if found is None:
        abort(404, f"issue {issue_id} is not known to Crosswalk")
    return render_template("dashboard/issue.html", issue=found, links=links, timeline=timeline)


@bp.post("/links/<int:link_id>/retry")
@staff_required
def retry(link_id: int):
    try:
        outcome = engine.retry(link_id, actor=current_actor())
    except engine.LinkNotFoundError as exc:
        abort(404, str(exc))
    if outcome.queued:
        flash(f"Push of issue {outcome.link.issue_id} queued again.")
    return redirect(url_for("dashboard.issue", issue_id=outcome.link.issue_id))


@bp.route("/check", methods=["GET", "POST"])
@staff_required
def check():
    """The preflight: GET offers the button, POST runs every check (read-only
    against the vendors) and shows the table (signed-in staff; a form token
    keeps other sites from starting it)."""
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
    """200 when the database (migrated to this code's revision) and Redis
    answer; 503 naming what is wrong otherwise."""
    health = engine.health()
    body = {"ok": health.ok, "queue": current_app.task_queue.mode, "checks": health.checks}
    return body, 200 if health.ok else 503
