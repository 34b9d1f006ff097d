"""SeeClickFix API v2 simulator (organization-scoped), per vendor-apis.md §1.

Only the documented wire format is served under ``/api/v2``; everything a
test needs beyond it (residents reporting, commenting, reopening) lives under
``/_sim/``. Timestamps are whole seconds in the organization's time zone with
an explicit offset (``2026-11-23T10:15:00-05:00``), like the real API, so
clients are forced to handle offsets and same-second updates.

Documented (vendor-apis.md §6), and served so: ``updated_at_after`` is
inclusive (``>=``) and times may be sent in UTC with ``Z``; comments carry
no ``id``; answers in issue details are ``{question, answer}``; a photo-less
issue's media is the ``default_image.png`` placeholder; creating an issue
requires ``address``, ``lat``, ``lng``, ``answers``, ``request_type_id`` and
answers ``201`` with ``Location``, or ``202 {"metadata":{"moderated":true}}``
while moderation is on (``/_sim/moderation``); only the organization-scoped
API (``/organizations/{id}/issues/{id}``) shows private issues; a comment
may carry an image (multipart/form-data, file field ``image``), kept and
served under ``/files/``.

Choices where the public docs are silent (clients must not rely on them):
* ``after`` is strict (``>``), ``..._before`` strict (``<``); a naive time in a
  query is read in the organization's time zone.
* Default order is ``created_at`` DESC; ties break on ``id`` (ascending with
  ``sort_direction=ASC``) so paging is stable.
* ``acknowledge`` on a Closed/Archived issue, ``close``/``open`` on an
  Archived one, are 422.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, jsonify, request, url_for

from simulators.seeclickfix_store import (
    API_PREFIX,
    EXTRA_FIELDS,
    STATUS_NAMES,
    Issue,
    IssueQuery,
    SeeClickFixState,
    media_json,
    not_found,
    scf_error,
)
from simulators.server import SimulatedError, create_simulator_app

__all__ = ["SeeClickFixState", "create_seeclickfix_app"]

SORT_FIELDS = ("created_at", "updated_at")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PER_PAGE_DETAILS = 20


def _api_root() -> str:
    return request.url_root.rstrip("/") + API_PREFIX


def _request_body() -> dict[str, Any]:
    """JSON or form parameters; form keys like ``answers[142]`` become nested dicts."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise SimulatedError(400, {"request": "Unable to parse JSON"})
        return data
    body: dict[str, Any] = {}
    for key, value in request.form.items():
        outer, bracket, inner = key.partition("[")
        if bracket and inner.endswith("]"):
            body.setdefault(outer, {})[inner[:-1]] = value
        else:
            body[key] = value
    return body


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


def _parse_query(state: SeeClickFixState) -> IssueQuery:
    args = request.args
    query = IssueQuery()
    if "status" in args:
        statuses = tuple(s.lower() for s in _split(args["status"]))
        if not statuses or any(s not in STATUS_NAMES for s in statuses):
            raise scf_error(422, "status", "is invalid")
        query.statuses = statuses
    times = {
        "updated_at_after": "updated_after",
        "updated_at_before": "updated_before",
        "after": "created_after",
        "before": "created_before",
    }
    for param, attribute in times.items():
        if args.get(param):
            try:
                setattr(query, attribute, state.parse_time(args[param]))
            except ValueError:
                raise scf_error(422, param, "is not a valid time") from None
    if args.get("request_types"):
        try:
            query.request_type_ids = frozenset(int(v) for v in _split(args["request_types"]))
        except ValueError:
            raise scf_error(422, "request_types", "is invalid") from None
    if args.get("search"):
        query.search = args["search"]
    box_params = ("min_lat", "min_lng", "max_lat", "max_lng")
    if any(p in args for p in box_params):
        try:
            min_lat, min_lng, max_lat, max_lng = (float(args[p]) for p in box_params)
        except (KeyError, ValueError):
            raise scf_error(422, "bounds", "needs min_lat, min_lng, max_lat, max_lng") from None
        query.bbox = (min_lat, min_lng, max_lat, max_lng)
    return query


def _sorted(issues: Iterable[Issue]) -> list[Issue]:
    sort = request.args.get("sort", "created_at")
    if sort not in SORT_FIELDS:
        raise scf_error(422, "sort", "is invalid")
    direction = request.args.get("sort_direction", "DESC").upper()
    if direction not in ("ASC", "DESC"):
        raise scf_error(422, "sort_direction", "is invalid")
    # The id tie-break keeps pages stable when many updates share one second.
    return sorted(issues, key=lambda i: (getattr(i, sort), i.id), reverse=direction == "DESC")


def _page_url(page: int | None) -> str | None:
    if page is None:
        return None
    args = request.args.to_dict()
    args["page"] = str(page)
    return f"{request.base_url}?{urlencode(args)}"


def _api_blueprint(state: SeeClickFixState) -> Blueprint:
    bp = Blueprint("seeclickfix_api", __name__, url_prefix=API_PREFIX)

    @bp.before_request
    def authenticate() -> None:
        auth = request.authorization
        if auth is not None and auth.type == "bearer" and auth.token == state.token:
            return
        if (
            auth is not None
            and auth.type == "basic"
            and state.basic_credentials is not None
            and (auth.username, auth.password) == state.basic_credentials
        ):
            return
        raise scf_error(401, "base", "Unauthorized")

    @bp.get("/organizations/<int:org_id>/issues")
    def list_issues(org_id: int) -> Response:
        if org_id != state.organization_id:
            raise not_found()
        details = request.args.get("details") == "true"
        limit = MAX_PER_PAGE_DETAILS if details else MAX_PER_PAGE
        per_page = min(max(_int_arg("per_page", DEFAULT_PER_PAGE), 1), limit)
        page = max(_int_arg("page", 1), 1)
        with state.lock:
            issues = _sorted(state.find_issues(_parse_query(state)))
            pages = math.ceil(len(issues) / per_page)
            chunk = issues[(page - 1) * per_page : page * per_page]
            body_issues = [state.issue_json(i, _api_root(), details=details) for i in chunk]
            state.after_listing(chunk)  # the reply above shows them as they were read
        next_page = page + 1 if page < pages else None
        previous_page = page - 1 if page > 1 else None
        return jsonify(
            {
                "errors": None,
                "metadata": {
                    "pagination": {
                        "page": page,
                        "pages": pages,
                        "per_page": per_page,
                        "next_page": next_page,
                        "next_page_url": _page_url(next_page),
                        "previous_page": previous_page,
                    }
                },
                "issues": body_issues,
            }
        )

    @bp.post("/issues")
    def create_issue() -> tuple[Response, int, dict[str, str]]:
        body = _request_body()
        answers = body.get("answers")
        if answers is None:
            raise scf_error(422, "answers", "can't be blank")  # documented as required
        if not isinstance(answers, dict):
            raise scf_error(422, "answers", "is invalid")
        held = state.take_moderation()
        issue = state.create_issue(
            request_type_id=body.get("request_type_id"),
            lat=body.get("lat"),
            lng=body.get("lng"),
            address=body.get("address"),
            summary=answers.get("summary"),
            description=answers.get("description"),
            answers=answers,
            reporter=state.official,
            held=held,
        )
        if held:  # documented: held for moderation, nothing about the issue yet
            return jsonify({"metadata": {"moderated": True}}), 202, {}
        location = f"{_api_root()}/issues/{issue.id}"
        return jsonify(state.issue_json(issue, _api_root())), 201, {"Location": location}

    @bp.get("/issues/<int:issue_id>")
    def show_issue(issue_id: int) -> Response:
        return _issue_reply(state.get_issue(issue_id, public_api=True))

    @bp.get("/organizations/<int:org_id>/issues/<int:issue_id>")
    def show_org_issue(org_id: int, issue_id: int) -> Response:
        if org_id != state.organization_id:
            raise not_found()
        return _issue_reply(state.get_issue(issue_id))

    def _issue_reply(issue: Issue) -> Response:
        details = request.args.get("details") == "true"
        with state.lock:
            return jsonify(state.issue_json(issue, _api_root(), details=details))

    @bp.get("/issues/<int:issue_id>/comments")
    def list_comments(issue_id: int) -> Response:
        with state.lock:
            issue = state.get_issue(issue_id, public_api=True)
            return jsonify({"comments": [state.comment_json(c) for c in issue.comments]})

    @bp.post("/issues/<int:issue_id>/comments")
    def create_comment(issue_id: int) -> tuple[Response, int]:
        body = _request_body()
        comment = state.add_comment(
            issue_id, body.get("comment"), state.official, image_url=_uploaded_image()
        )
        # Documented: the reply has no id (nor does the comment object).
        return jsonify({"moderated": False, **state.comment_json(comment)}), 201

    @bp.post("/issues/<int:issue_id>/<any(acknowledge, close, open):action>")
    def transition(issue_id: int, action: str) -> tuple[Response, int]:
        body = _request_body()
        issue, comment = state.transition(
            issue_id, action, body.get("comment"), image_url=_uploaded_image()
        )
        return jsonify(
            {
                "moderated": False,
                "comment": comment.comment,
                "commenter": comment.commenter.commenter_json(),
                "issue": {"status": issue.status},
                "media": media_json(comment.image_url),
            }
        ), 201

    @bp.get("/request_types/<int:request_type_id>")
    def show_request_type(request_type_id: int) -> Response:
        request_type = state.request_types.get(request_type_id)
        if request_type is None:
            raise not_found()
        return jsonify(state.request_type_json(request_type, _api_root()))

    def _uploaded_image() -> str | None:
        """A multipart ``image`` upload, kept and served back under ``/files/``."""
        upload = request.files.get("image")
        if upload is None or not upload.filename:
            return None
        content_type = (upload.mimetype or "").lower()
        if not content_type.startswith("image/"):
            raise scf_error(422, "image", "is not an image")
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in upload.filename)
        path = state.store_file(name, upload.read(), content_type)
        return url_for("seeclickfix_files.served_file", path=path, _external=True)

    return bp


def _files_blueprint(state: SeeClickFixState) -> Blueprint:
    """The CRM's file host (its CDN): uploaded comment images, no auth."""
    bp = Blueprint("seeclickfix_files", __name__)

    @bp.get("/files/<path:path>")
    def served_file(path: str) -> Response:
        with state.lock:
            stored = state.files.get(path)
        if stored is None:
            raise not_found()
        content, content_type = stored
        return Response(content, content_type=content_type)

    return bp


def _control_blueprint(state: SeeClickFixState) -> Blueprint:
    """Residents' side of the CRM, which the API itself cannot drive."""
    bp = Blueprint("seeclickfix_control", __name__, url_prefix="/_sim")

    @bp.post("/issues")
    def resident_issue() -> tuple[Response, int]:
        body = _request_body()
        reporter = body.get("reporter") or {}
        created_at = None
        if body.get("created_at"):  # back-dated reports, e.g. for archiving tests
            try:
                created_at = state.parse_time(body["created_at"]).replace(microsecond=0)
            except ValueError:
                raise scf_error(422, "created_at", "is not a valid time") from None
        issue = state.create_issue(
            request_type_id=body.get("request_type_id"),
            lat=body.get("lat"),
            lng=body.get("lng"),
            address=body.get("address"),
            summary=body.get("summary"),
            description=body.get("description"),
            answers=body.get("answers") or {},
            image_url=body.get("image_url"),
            private_visibility=bool(body.get("private_visibility", False)),
            reporter=state.resident(reporter.get("name", "Resident"), reporter.get("email")),
            created_at=created_at,
            require_answers=False,
        )
        state.notify("issue.created", issue, None, _api_root())
        return jsonify(state.issue_json(issue, _api_root(), details=True)), 201

    @bp.post("/issues/<int:issue_id>/comments")
    def resident_comment(issue_id: int) -> tuple[Response, int]:
        body = _request_body()
        commenter = body.get("commenter") or {}
        comment = state.add_comment(
            issue_id,
            body.get("comment"),
            state.resident(commenter.get("name", "Resident"), commenter.get("email")),
            image_url=body.get("image_url"),
        )
        issue = state.get_issue(issue_id)
        state.notify("comment.created", issue, comment, _api_root())
        return jsonify(state.comment_json(comment)), 201

    @bp.post("/issues/<int:issue_id>/reopen")
    def resident_reopen(issue_id: int) -> Response:
        issue = state.reopen(issue_id)
        return jsonify(state.issue_json(issue, _api_root(), details=True))

    @bp.post("/issues/<int:issue_id>/archive")
    def archive(issue_id: int) -> Response:
        issue = state.archive(issue_id)
        return jsonify(state.issue_json(issue, _api_root(), details=True))

    @bp.post("/update_listed_issues")
    def update_listed_issues() -> Response:
        """``{"enabled": true}``: each issue a list request returns is updated
        once right after (see ``SeeClickFixState.after_listing``)."""
        body = request.get_json(silent=True) or {}
        with state.lock:
            state.update_listed_issues = bool(body.get("enabled"))
        return jsonify({"enabled": state.update_listed_issues})

    @bp.post("/moderation")
    def moderation() -> Response:
        """``{"count": N}``: the next N issues created through the API are held
        for moderation (``202``); ``{"approve": true}``: a moderator lets every
        held issue through (each appears, updated now)."""
        body = request.get_json(silent=True) or {}
        approved = [issue.id for issue in state.approve_held()] if body.get("approve") else []
        if "count" in body:
            with state.lock:
                state.moderate_next = max(int(body["count"]), 0)
        return jsonify({"pending": state.moderate_next, "approved": approved})

    @bp.post("/official")
    def rename_official() -> Response:
        """``{"name": ".."}``: an admin renames the API token's user."""
        body = request.get_json(silent=True) or {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise scf_error(422, "name", "can't be blank")
        return jsonify(state.rename_official(name).commenter_json())

    @bp.post("/extra_fields")
    def extra_fields() -> Response:
        """``{"fields": ["comment_ids", "question_keys"]}``: serve fields beyond the
        documented shape, as some server might (clients must still take them)."""
        body = request.get_json(silent=True) or {}
        fields = set(body.get("fields") or ())
        unknown = fields - set(EXTRA_FIELDS)
        if unknown:
            raise scf_error(422, "fields", f"unknown: {sorted(unknown)}")
        with state.lock:
            state.extra_fields = fields
        return jsonify({"fields": sorted(fields)})

    @bp.post("/request_types/<int:request_type_id>/questions/<key>")
    def change_question(request_type_id: int, key: str) -> Response:
        """``{"question": ".."}`` renames a question, ``{"question": null}``
        removes it; issues answered before keep the text they were answered under."""
        body = request.get_json(silent=True) or {}
        state.rename_question(request_type_id, key, body.get("question"))
        request_type = state.request_types[request_type_id]
        return jsonify(state.request_type_json(request_type, _api_root()))

    @bp.post("/request_types/<int:request_type_id>/private")
    def mark_request_type_private(request_type_id: int) -> Response:
        """``{"private": true}``: the category's issues are private from now on."""
        body = request.get_json(silent=True) or {}
        state.set_request_type_private(request_type_id, body.get("private") is True)
        return jsonify({"id": request_type_id, "private": body.get("private") is True})

    @bp.post("/webhook")
    def configure_webhook() -> Response:
        body = request.get_json(silent=True) or {}
        with state.lock:
            state.webhook_url = body.get("url")
            state.webhook_secret = body.get("secret")
        return jsonify({"url": state.webhook_url})

    return bp


def create_seeclickfix_app(state: SeeClickFixState) -> Flask:
    """The SeeClickFix simulator app: ``/api/v2`` plus the ``/_sim/`` control plane."""
    app = create_simulator_app(__name__, state)
    app.register_blueprint(_api_blueprint(state))
    app.register_blueprint(_control_blueprint(state))
    app.register_blueprint(_files_blueprint(state))
    return app
