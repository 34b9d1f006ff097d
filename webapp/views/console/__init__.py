"""The operations console's pictures and tools beyond the dashboard: sync lag
per integration (and, with later pages, jobs, the boundary, search)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from geo.boundary import BoundaryError

from ...auth import current_actor
from ...auth.roles import admin_required, staff_required
from ...sync import engine
from ...sync.boundary_admin import MAX_UPLOAD_BYTES, BoundaryNotConfigured
from .charts import Series, bar_chart, line_chart

bp = Blueprint("console", __name__)


@bp.get("/lag")
def lag():
    """Per integration: report → acknowledged and remote close → CRM close
    (p50, p90) and created/closed/failed per day, last 30 days."""
    rows = engine.sync_lag()
    charts = []
    for row in rows:
        days = [d.day for d in row.days]
        charts.append(
            {
                "name": row.name,
                "has_data": row.has_data,
                "ack": line_chart(
                    f"{row.name}: report to acknowledgment",
                    days,
                    [
                        Series("p50", "s1", [d.ack_p50 for d in row.days]),
                        Series("p90", "s2", [d.ack_p90 for d in row.days]),
                    ],
                ),
                "close": line_chart(
                    f"{row.name}: crew close to CRM close",
                    days,
                    [
                        Series("p50", "s1", [d.close_p50 for d in row.days]),
                        Series("p90", "s2", [d.close_p90 for d in row.days]),
                    ],
                ),
                "counts": bar_chart(
                    f"{row.name}: requests per day",
                    days,
                    [
                        Series("created", "s1", [d.created for d in row.days]),
                        Series("closed", "s3", [d.closed for d in row.days]),
                        Series("failed", "s4", [d.failed for d in row.days]),
                    ],
                ),
                "days": row.days,
            }
        )
    return render_template("console/lag.html", charts=charts)


@bp.get("/jobs")
def jobs():
    """Periodic tasks (next run, last run, run now) and RQ's queued, running,
    scheduled and failed jobs."""
    return render_template("console/jobs.html", board=engine.job_board())


@bp.post("/jobs/<key>/run")
@staff_required
def run_now(key: str):
    """Staff run a periodic task now: the same job id as the schedule's, so a
    run already queued or running is not doubled."""
    task = engine.task_by_key(key)
    if task is None:
        abort(404, f"no periodic task {key!r} is configured")
    if engine.run_task_now(task, actor=current_actor()):
        flash(f"{task.label}: queued.")
    else:
        flash(f"{task.label}: a run is already queued or running; not queued twice.")
    return redirect(url_for("console.jobs", _anchor=f"task-{key}"))


@bp.get("/boundary")
def boundary():
    """The agency boundary to scale, with the importer's candidates as dots."""
    return _boundary_page()


def _boundary_page(**upload):
    """The boundary page: the current map, and an upload's result if any."""
    found = engine.boundary_map()
    svg = Markup(found.svg) if found.svg else None
    return render_template("console/boundary.html", map=found, svg=svg, **upload)


@bp.post("/boundary/check")
@admin_required
def boundary_check():
    """An admin's upload, judged and drawn; nothing is replaced yet."""
    upload = request.files.get("boundary")
    if upload is None or not upload.filename:
        flash("Choose a GeoJSON file to upload.")
        return redirect(url_for("console.boundary"))
    raw = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        return _boundary_refused(f"the file is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _boundary_refused("the file is not UTF-8 text (GeoJSON is)")
    checked = engine.check_boundary_upload(text)
    page = _boundary_page(
        upload=checked,
        upload_svg=Markup(checked.svg) if checked.svg else None,
        filename=upload.filename,
    )
    return page, (200 if checked.accepted else 422)


def _boundary_refused(message: str):
    flash(f"Boundary refused: {message}")
    return redirect(url_for("console.boundary"))


@bp.post("/boundary/replace")
@admin_required
def boundary_replace():
    """The confirmed upload replaces the configured boundary file (audited)."""
    text = request.form.get("geojson", "")
    try:
        path = engine.replace_boundary(text, current_actor())
    except (BoundaryError, BoundaryNotConfigured) as exc:
        return _boundary_refused(str(exc))
    except OSError as exc:
        return _boundary_refused(f"could not write the boundary file: {exc.strerror}")
    flash(f"Boundary replaced: {path} (the previous file is kept beside it).")
    return redirect(url_for("console.boundary"))
