"""The remote poll: read the remote state of every acknowledged issue of an
integration, one filtered query per batch (never one call per issue), and
close CRM issues whose remote request closed; on the way, import the remote
request's public comments and post the comments of rules that fire. Once
closed, an issue is never written again."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import selectinload

from integrations.base import Connector, RemoteComment, RemoteRecord
from integrations.errors import IntegrationError, NotSupportedError
from integrations.photos import download_photo
from integrations.seeclickfix import SeeClickFixClient
from integrations.settings import IntegrationSettings

from ..extensions import db
from ..models import (
    Comment,
    Event,
    Integration,
    RuleState,
    SyncLink,
    SyncState,
    utcnow,
)
from ..models import Rule as RuleRow
from . import configure, crm_identity, cursors, events, lifecycle, messages, vendors
from .push import CLOSED_CRM_STATUSES, crm_shows
from .rules import Rule, RuleError, evaluate_rules


@dataclass
class RemotePollReport:
    integration: str
    polled: int = 0
    batches: int = 0
    closed: int = 0
    failed: int = 0
    archived: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"polled {self.polled} in {self.batches} batch(es), closed {self.closed}, "
            f"failed {self.failed}"
        )
        return f"{text}, {self.duplicates} duplicate(s) found" if self.duplicates else text


def cursor_key(integration: Integration) -> str:
    return f"poll:{integration.name}"


@dataclass
class PollContext:
    """What every link of one poll cycle shares."""

    integration: Integration
    settings: IntegrationSettings
    connector: Connector
    crm: SeeClickFixClient
    integration_user: str
    rules: list[Rule] = field(default_factory=list)
    reported_rule_errors: set[str] = field(default_factory=set)
    # RuleState rows of the current batch by link id, loaded in one query.
    rule_states: dict[int, dict[int, RuleState]] = field(default_factory=dict)

    def load_rule_states(self, link_ids: list[int]) -> None:
        self.rule_states = {link_id: {} for link_id in link_ids}
        if not self.rules or not link_ids:
            return
        rows = db.session.execute(db.select(RuleState).where(RuleState.link_id.in_(link_ids)))
        for state in rows.scalars():
            self.rule_states.setdefault(state.link_id, {})[state.rule_id] = state

    def states_of(self, link: SyncLink) -> dict[int, RuleState]:
        if link.id not in self.rule_states:
            self.rule_states[link.id] = {
                s.rule_id: s
                for s in db.session.execute(
                    db.select(RuleState).where(RuleState.link_id == link.id)
                ).scalars()
            }
        return self.rule_states[link.id]

    def decisions(
        self, link: SyncLink, current: dict, previous: dict | None
    ) -> tuple[list, list[RuleError]]:
        """What the rules say about this record (pure: nothing is posted)."""
        states = self.states_of(link)
        category = link.category.remote_id if link.category else None
        return evaluate_rules(
            self.rules, category, current, previous, {k: s.is_true for k, s in states.items()}
        )


def make_context(integration: Integration) -> PollContext:
    agency = vendors.agency()
    settings = vendors.settings_of(integration)
    return PollContext(
        integration=integration,
        settings=settings,
        connector=vendors.connector(integration, settings),
        crm=vendors.crm_client(agency),
        integration_user=agency.integration_user,
        rules=load_rules(integration),
    )


def load_rules(integration: Integration) -> list[Rule]:
    rows = db.session.execute(
        db.select(RuleRow)
        .where(RuleRow.integration_id == integration.id, RuleRow.enabled.is_(True))
        .order_by(RuleRow.position, RuleRow.id)
    ).scalars()
    return [
        Rule(
            id=row.id,
            field=row.field,
            op=row.op,
            value=row.value,
            from_value=row.from_value,
            message=row.message,
            categories=tuple(row.categories or ()),
        )
        for row in rows
    ]


def report_rule_error(ctx: PollContext, error: RuleError, link: SyncLink) -> None:
    """A broken rule is a configuration error: said once a day, not on every poll."""
    text = str(error)
    if text.startswith("rule "):  # the message names its rule already
        detail = text
    else:
        detail = f"rule {error.rule.describe() if error.rule else '(unknown)'}: {text}"
    if detail in ctx.reported_rule_errors:
        return
    ctx.reported_rule_errors.add(detail)
    # Once a day, and again at once after the configuration changed (an edit
    # that did not fix the rule must not hide the error for a day).
    changed = configure.configuration_changed_at([link.integration_id]).get(link.integration_id)
    since = max(t for t in (utcnow() - timedelta(days=1), changed) if t is not None)
    recent = db.session.execute(
        db.select(Event.id).where(
            Event.kind == "rule_error",
            Event.integration_id == link.integration_id,
            Event.detail == detail,
            Event.created_at >= since,
        )
    ).first()
    if recent is None:
        events.record("rule_error", detail, integration_id=link.integration_id, level="error")


def apply_rules(ctx: PollContext, link: SyncLink, previous: dict | None, current: dict) -> int:
    """Post each rule's message when its condition becomes true; return how many fired."""
    if not ctx.rules:
        return 0
    states = ctx.states_of(link)
    decisions, errors = ctx.decisions(link, current, previous)
    for error in errors:
        report_rule_error(ctx, error, link)
    fired = 0
    for decision in decisions:
        state = states.get(decision.rule.id)
        if state is None:
            state = RuleState(link_id=link.id, rule_id=decision.rule.id)
            states[decision.rule.id] = state
            db.session.add(state)
        state.is_true = decision.now_true
        if not decision.fire:
            continue
        crm_identity.remember(ctx.crm.add_comment(link.issue_id, decision.rule.message))
        state.fired_at = utcnow()
        events.record_for(
            link, "rule_fired", f"{decision.rule.describe()}: {decision.rule.message}"
        )
        db.session.commit()  # the comment is posted: never post it again
        fired += 1
    return fired


def import_comments(ctx: PollContext, link: SyncLink, comments: list[RemoteComment]) -> int:
    """Post the remote request's public comments to the CRM issue, each once.

    Posted as the integration user; what the hub itself wrote to the remote
    request travels in a field, not as a comment, so nothing echoes back.
    """
    known = set(
        db.session.execute(
            db.select(Comment.remote_key).where(
                Comment.issue_id == link.issue_id, Comment.remote_key.is_not(None)
            )
        ).scalars()
    )
    imported = 0
    for comment in comments:
        if not comment.public or comment.key in known:
            continue
        post_remote_comment(ctx, link, comment)
        db.session.add(
            Comment(
                issue_id=link.issue_id,
                origin="remote",
                remote_key=comment.key,
                author=comment.author,
                body=comment.body,
                image_url=comment.image_url,
                created_at=utcnow(),
                pushed_at=utcnow(),  # it came from the remote: never send it back
            )
        )
        db.session.commit()  # one by one: a failure later never re-posts this one
        imported += 1
    if imported:
        events.record_for(
            link,
            "comments_imported",
            f"{imported} public comment(s) from {ctx.integration.name} posted as "
            f"{ctx.integration_user}",
        )
    return imported


def post_remote_comment(ctx: PollContext, link: SyncLink, comment: RemoteComment) -> None:
    """Post one remote comment to the CRM issue. Its image (a public Lucity
    document, a Cartegraph attachment) goes as an image: SeeClickFix's comment
    API takes one as multipart ``image``. An image Crosswalk cannot fetch or
    use (gone, not an image, too large, its host failing or asking for a
    sign-in) goes as a link in the text instead: the comment is never held
    back for its picture."""
    body = comment.body
    photo = None
    if comment.image_url:
        try:
            timeout = current_app.config["CROSSWALK_HTTP_TIMEOUT"]
            photo = download_photo(comment.image_url, timeout=timeout)
        except IntegrationError as exc:
            body = f"{body}\n{comment.image_url}".strip()
            events.record_for(
                link,
                "image_as_link",
                f"an image from {ctx.integration.name} is posted as a link: {exc}",
                level="warning",
            )
    crm_identity.remember(ctx.crm.add_comment(link.issue_id, body, image=photo))


def apply_remote(
    ctx: PollContext,
    link: SyncLink,
    record: RemoteRecord | None,
    comments: list[RemoteComment] | None = None,
) -> bool:
    """Apply one remote record to its link; True when it closed the CRM issue."""
    crm = ctx.crm
    issue = link.issue
    link.last_polled_at = utcnow()
    if record is None:
        problem = f"remote request {link.remote_display_id or link.remote_id} was not found"
        if link.last_error != problem:
            link.last_error, link.last_error_at = problem, utcnow()
            events.record_for(link, "remote_missing", problem, level="warning")
        return False
    status_changed = record.status != link.remote_status
    if status_changed:
        events.record_for(link, "remote_status", f"{link.remote_status or '—'} → {record.status}")
    # The last observation (the previous poll, or the record as created).
    previous = dict(link.remote_fields) if link.remote_fields else None
    link.remote_status = record.status
    link.remote_fields = dict(record.fields)
    link.last_error = None
    if comments:
        import_comments(ctx, link, comments)
    apply_rules(ctx, link, previous, dict(record.fields))
    if status_changed and (note := ctx.connector.status_message_for(record)):
        crm_identity.remember(crm.add_comment(issue.id, note))
        events.record_for(link, "status_message", f"status {record.status}: {note}")
        db.session.commit()  # posted: never again for this transition
    if not record.closed:
        # Seen open: the next close is a real one.
        link.reopened_at = None
        link.remote_closed_at = link.remote_close_intended_at = None
        return False
    if link.reopened_at is not None:
        return False  # reopened in the CRM; wait until the crew reopens and closes again
    if link.remote_closed_at is None:
        link.remote_closed_at = utcnow()
    close_crm(ctx, link, record)
    return True


def close_crm(ctx: PollContext, link: SyncLink, record: RemoteRecord) -> None:
    """The CRM-close leg: the crew closed the work, the resident reads why."""
    message = ctx.connector.closing_message_for(record) or messages.closing_message(
        ctx.settings, link.category
    )
    detail = message
    if lifecycle.in_doubt(link, lifecycle.CLOSE_CRM) and crm_shows(
        ctx.crm, link.issue_id, CLOSED_CRM_STATUSES, message
    ):
        detail = f"{message} (already in the CRM: sent before, its reply was lost)"
    else:
        lifecycle.intend(link, lifecycle.CLOSE_CRM)
        crm_identity.remember(ctx.crm.close(link.issue_id, message))
    lifecycle.mark_done(link, lifecycle.CLOSE_CRM)
    link.last_synced_at = utcnow()
    link.issue.status = "Closed"
    lifecycle.move(link, SyncState.CLOSED, "closed", detail)


def _archive(integration: Integration, days: int) -> int:
    links = lifecycle.closed_before(integration.id, utcnow() - timedelta(days=days))
    for link in links:
        lifecycle.move(
            link, SyncState.ARCHIVED, "archived", f"closed for more than {days} days; no more sync"
        )
    return len(links)


def poll_integration(integration_id: int, *, issue_id: int | None = None) -> RemotePollReport:
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        raise LookupError(f"integration {integration_id} does not exist")
    report = RemotePollReport(integration.name)
    cursor = cursors.cursor(cursor_key(integration))
    cursor.last_started_at = utcnow()
    db.session.commit()

    targets = lifecycle.poll_targets(integration.id, issue_id)
    link_ids = [link_id for link_id, _, _ in targets]
    archive_after_days = vendors.crm_settings().archive_after_days
    ctx = make_context(integration)
    size = max(1, ctx.connector.batch_size)
    batches = [targets[start : start + size] for start in range(0, len(targets), size)]
    # The next batch is read from the remote system while this one is written
    # to the database, so the cycle costs about the longer of the two, not
    # their sum. Only the reading thread calls the connector's HTTP session;
    # this one uses its mapping alone (closing and status messages).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="remote-poll-read") as reader:

        def read(batch: list[tuple[int, str, int]]) -> Future[_Fetched]:
            wanted = [(remote_id, issue) for _, remote_id, issue in batch]
            return reader.submit(_fetch, ctx.connector, ctx.settings.import_comments, wanted)

        pending = read(batches[0]) if batches else None
        for number, batch in enumerate(batches):
            fetched = pending.result()
            pending = read(batches[number + 1]) if number + 1 < len(batches) else None
            _poll_batch([link_id for link_id, _, _ in batch], ctx, report, fetched)
    report.archived = _archive(integration, archive_after_days)

    cursor = cursors.cursor(cursor_key(integration))
    if report.errors and report.polled == 0 and link_ids:
        cursor.last_error, cursor.last_error_at = report.errors[0], utcnow()
    else:
        cursor.last_success_at = utcnow()
        cursor.last_error = report.errors[0] if report.errors else None
    db.session.commit()
    return report


@dataclass
class _Fetched:
    """What one batch read from the remote system: the records and their
    comments (or why not), and the requests carrying the batch's external ids
    (None: the kind cannot list them; or why the check failed)."""

    records: dict[str, RemoteRecord] = field(default_factory=dict)
    comments: dict[str, list[RemoteComment]] = field(default_factory=dict)
    failure: IntegrationError | None = None
    by_external_id: dict[str, list[RemoteRecord]] | None = None
    duplicates_failure: IntegrationError | None = None


def _fetch(connector: Connector, import_comments: bool, wanted: list[tuple[str, int]]) -> _Fetched:
    """Read one batch (in the reading thread: HTTP only, no database)."""
    remote_ids = [remote_id for remote_id, _ in wanted]
    try:
        records = connector.fetch_records(remote_ids)
        comments = connector.fetch_comments(remote_ids) if import_comments else {}
    except IntegrationError as exc:
        return _Fetched(failure=exc)
    fetched = _Fetched(records, comments)
    try:
        fetched.by_external_id = connector.records_by_external_ids([i for _, i in wanted])
    except NotSupportedError:
        pass
    except IntegrationError as exc:
        fetched.duplicates_failure = exc
    return fetched


def _poll_batch(
    link_ids: list[int], ctx: PollContext, report: RemotePollReport, fetched: _Fetched
) -> None:
    # The links with their issues and categories, in three queries for the
    # batch: a lazy ``link.issue`` per link would also flush the previous
    # link's changes, sending the batch's writes one statement at a time.
    links = (
        db.session.execute(
            db.select(SyncLink)
            .where(SyncLink.id.in_(link_ids))
            .order_by(SyncLink.id)
            .options(selectinload(SyncLink.issue), selectinload(SyncLink.category))
        )
        .scalars()
        .all()
    )
    report.batches += 1
    records, comments = fetched.records, fetched.comments
    if (exc := fetched.failure) is not None:
        db.session.rollback()
        report.failed += len(link_ids)
        report.errors.append(str(exc))
        events.record_now(
            "remote_poll_failed",
            f"batch of {len(link_ids)}: {exc}",
            integration_id=links[0].integration_id if links else None,
            level="error",
        )
        return
    report_duplicates(ctx, links, report, fetched)
    untouched: list[int] = []
    # Changes that only touch our own rows: applied together, one commit.
    local_only: list[SyncLink] = []
    # Changes that post to the CRM (close, comments, rules, status messages):
    # applied and committed one by one, so a post is never repeated.
    posts_to_crm: list[SyncLink] = []
    ctx.load_rule_states([link.id for link in links])
    for link in links:
        record, notes = records.get(link.remote_id), comments.get(link.remote_id)
        if nothing_to_do(ctx, link, record, notes) and not _rule_states_stale(ctx, link, record):
            untouched.append(link.id)
        elif (
            record is None
            or record.closed
            or notes
            or _rule_fires(ctx, link, record)
            or (record.status != link.remote_status and ctx.connector.status_message_for(record))
        ):
            posts_to_crm.append(link)
        else:
            local_only.append(link)
    if local_only:
        try:
            with events.collected():  # the batch's events in one statement
                for link in local_only:
                    apply_remote(ctx, link, records.get(link.remote_id))
            db.session.commit()  # one commit for the batch
            report.polled += len(local_only)
        except Exception:
            # Something in the batch is poisoned: redo it link by link to find it.
            db.session.rollback()
            posts_to_crm = local_only + posts_to_crm
    if untouched:
        # One statement for the many links that did not change, not a commit
        # each (after the batch above, whose rollback must not undo it).
        db.session.execute(
            db.update(SyncLink).where(SyncLink.id.in_(untouched)).values(last_polled_at=utcnow())
        )
    db.session.commit()
    report.polled += len(untouched)
    for link in posts_to_crm:
        _apply_one(ctx, link, records.get(link.remote_id), comments.get(link.remote_id), report)


def report_duplicates(
    ctx: PollContext, links: list[SyncLink], report: RemotePollReport, fetched: _Fetched
) -> None:
    """Other remote requests carrying a link's external id: a create the vendor
    applied after Crosswalk had given up on it. Each is reported once, as a
    warning on the issue's timeline and a count on the dashboard, never left
    as an orphan nobody sees. One query per batch (made by ``_fetch``)."""
    found = fetched.by_external_id
    if (exc := fetched.duplicates_failure) is not None:
        report.errors.append(f"duplicate check: {exc}")
        events.record_now(
            "remote_poll_failed",
            f"could not look for duplicate requests: {exc}",
            integration_id=ctx.integration.id,
            level="warning",
        )
        return
    if found is None:
        return  # the kind cannot list requests by external id
    changed = False
    for link in links:
        extra = sorted(
            record.display_id or record.remote_id
            for record in found.get(str(link.issue_id), [])
            if record.remote_id != link.remote_id
        )
        if extra == (link.remote_duplicates or []):
            continue
        new = [remote_id for remote_id in extra if remote_id not in (link.remote_duplicates or [])]
        link.remote_duplicates = extra or None
        changed = True
        if new:
            report.duplicates += len(new)
            events.record_for(
                link,
                "remote_duplicate",
                f"{ctx.integration.name} also has request(s) {', '.join(new)} carrying this "
                "issue's external id (a create applied after Crosswalk gave up on it): "
                f"{link.remote_display_id or link.remote_id} is the one synced; close or merge "
                "the other(s)",
                level="warning",
            )
    if changed:
        db.session.commit()


def _apply_one(
    ctx: PollContext,
    link: SyncLink,
    record: RemoteRecord | None,
    notes: list[RemoteComment] | None,
    report: RemotePollReport,
) -> None:
    link_id, issue_id = link.id, link.issue_id
    try:
        closed = apply_remote(ctx, link, record, notes)
        db.session.commit()
    except Exception as exc:  # one bad issue never stops the others
        db.session.rollback()
        report.failed += 1
        report.errors.append(f"issue {issue_id}: {exc}")
        failed = db.session.get(SyncLink, link_id)
        if failed is not None:
            failed.last_error, failed.last_error_at = str(exc), utcnow()
        events.record_now("remote_poll_failed", str(exc), issue_id=issue_id, level="error")
        return
    report.polled += 1
    report.closed += int(closed)


def _rule_fires(ctx: PollContext, link: SyncLink, record: RemoteRecord) -> bool:
    if not ctx.rules:
        return False
    previous = dict(link.remote_fields) if link.remote_fields else None
    decisions, _ = ctx.decisions(link, dict(record.fields), previous)
    return any(d.fire for d in decisions)


def _rule_states_stale(ctx: PollContext, link: SyncLink, record: RemoteRecord) -> bool:
    """Whether a rule judges this unchanged record otherwise than its stored
    state says: a rule added or edited since the last poll. Such a link is
    applied (storing the states, posting what fires), so a new rule is judged
    on the next poll, not when the record next changes."""
    if not ctx.rules:
        return False
    previous = dict(link.remote_fields) if link.remote_fields else None
    decisions, _ = ctx.decisions(link, dict(record.fields), previous)
    states = ctx.states_of(link)
    for decision in decisions:
        state = states.get(decision.rule.id)
        if decision.fire or state is None or state.is_true != decision.now_true:
            return True
    return False


def nothing_to_do(
    ctx: PollContext,
    link: SyncLink,
    record: RemoteRecord | None,
    comments: list[RemoteComment] | None,
) -> bool:
    """The record is exactly as last seen, open, and brings no comments."""
    return (
        record is not None
        and not record.closed
        and not comments
        and link.last_polled_at is not None
        and link.last_error is None
        and link.reopened_at is None
        and link.remote_status == record.status
        and link.remote_fields == dict(record.fields)
    )
