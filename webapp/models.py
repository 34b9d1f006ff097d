"""The hub's own state: configuration loaded from the agency's file, the CRM
issues it has seen, one sync link per (issue, integration), comments, and the
event timeline. Secrets are never stored: only environment variable names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, types
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

# The largest id an Integer column holds (PostgreSQL ``integer``): a larger
# number names no row, and sending it makes the database raise.
DATABASE_INT_MAX = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(types.TypeDecorator):
    """Stores UTC without zone (portable); always returns aware UTC datetimes."""

    impl = types.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class SyncState:
    """States of a sync link (one issue in one integration). The allowed moves
    between them, and the timeline event each writes, live in
    ``webapp.sync.lifecycle``: nothing else assigns ``SyncLink.state``."""

    PENDING = "pending"  # to be created remotely and/or acknowledged in the CRM
    ACKNOWLEDGED = "acknowledged"  # remote request exists; CRM acknowledged; polled
    CLOSED = "closed"  # remote closed and CRM closed; no more sync
    FAILED = "failed"  # push gave up after its last attempt
    ARCHIVED = "archived"  # closed longer than the archive period

    ALL = (PENDING, ACKNOWLEDGED, CLOSED, FAILED, ARCHIVED)


class Agency(db.Model):
    """The single agency this hub serves, as its configuration file says."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    integration_user: Mapped[str] = mapped_column(String(200))
    boundary_path: Mapped[str | None] = mapped_column(String(1000))
    # IANA name ("America/New_York"): the console shows times in it (UTC on
    # hover). None: UTC.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    crm: Mapped[dict[str, Any]] = mapped_column(JSON)
    geocoder: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_source: Mapped[str | None] = mapped_column(String(1000))
    # The CRM's id of the user Crosswalk acts as (learnt from the replies to
    # its own comments): how its own comments are known when they come back,
    # whatever display name the CRM shows.
    crm_commenter_id: Mapped[int | None]
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Integration(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    enabled: Mapped[bool] = mapped_column(default=True)
    # The validated settings of the kind, without categories (those are rows).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    categories: Mapped[list[Category]] = relationship(back_populates="integration")


class Category(db.Model):
    """A remote category (Request Issue, Problem Code) and its CRM request type."""

    __table_args__ = (UniqueConstraint("integration_id", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"), index=True)
    # The value sent on requests (Cartegraph IssueField, Lucity Problem Code).
    remote_id: Mapped[str] = mapped_column(String(200))
    # The remote record's stable identity (Cartegraph Oid), so a rename is a rename.
    remote_key: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    group_name: Mapped[str | None] = mapped_column(String(300))  # service area
    crm_request_type_id: Mapped[int | None] = mapped_column(index=True)
    acknowledgment_message: Mapped[str | None] = mapped_column(Text)
    closing_message: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)
    private: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    protected: Mapped[bool] = mapped_column(default=False)
    # Declared in the configuration file (else found by the category sync).
    configured: Mapped[bool] = mapped_column(default=False)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_seen_remote_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    integration: Mapped[Integration] = relationship(back_populates="categories")


class RequestType(db.Model):
    """A CRM request type as last read (title, secondary questions)."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # the CRM's id
    title: Mapped[str] = mapped_column(String(300))
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Issue(db.Model):
    """The CRM issue as last seen (poll or webhook)."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # the CRM's id
    status: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    address: Mapped[str | None] = mapped_column(Text)
    request_type_id: Mapped[int | None] = mapped_column(index=True)
    request_type_title: Mapped[str | None] = mapped_column(String(300))
    reporter_name: Mapped[str | None] = mapped_column(String(300))
    reporter_email: Mapped[str | None] = mapped_column(String(300))
    image_url: Mapped[str | None] = mapped_column(Text)
    html_url: Mapped[str | None] = mapped_column(Text)
    # The CRM's ``private_visibility``: the public cannot see the issue (its
    # request type is private). None: the CRM did not say.
    private: Mapped[bool | None]
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    crm_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crm_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why no integration takes this issue (its request type is not mapped).
    skip_reason: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    links: Mapped[list[SyncLink]] = relationship(back_populates="issue")
    comments: Mapped[list[Comment]] = relationship(
        back_populates="issue", order_by="Comment.created_at"
    )


# The dashboard's issue list, newest reported first (keyset pages read ranges
# of it), and the unrouted issues alone (their list, and the overview's count).
# SQLite sorts NULLs last in descending order without saying so (extensions.py).
_ISSUE_LISTING = (Issue.crm_created_at.desc().nulls_last(), Issue.id.desc())
Index("ix_issue_listing", *_ISSUE_LISTING)
_UNROUTED = Issue.skip_reason.is_not(None)
Index("ix_issue_skipped", *_ISSUE_LISTING, postgresql_where=_UNROUTED, sqlite_where=_UNROUTED)


class SyncLink(db.Model):
    """One issue in one integration. Each leg (create the remote request,
    acknowledge the CRM issue, close the CRM issue, close the remote request)
    has two timestamps: *intended*, committed before the vendor is called, and
    *done*, committed after it answered. A half-done push resumes at the leg
    that is not done, and a leg intended but not done is known to be in doubt
    (the vendor may have applied it before the reply was lost)."""

    __table_args__ = (
        UniqueConstraint("issue_id", "integration_id"),
        Index("ix_sync_link_integration_state", "integration_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id"), index=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    state: Mapped[str] = mapped_column(String(20), default=SyncState.PENDING)
    # crm: created from a CRM issue; remote: imported from the remote system.
    origin: Mapped[str] = mapped_column(String(10), default="crm")
    remote_id: Mapped[str | None] = mapped_column(String(100))
    remote_display_id: Mapped[str | None] = mapped_column(String(100))
    remote_status: Mapped[str | None] = mapped_column(String(100))
    remote_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verified_address: Mapped[str | None] = mapped_column(Text)
    address_source: Mapped[str | None] = mapped_column(String(20))  # arcgis | reported
    attempts: Mapped[int] = mapped_column(default=0)  # every failed attempt, for history
    # Failed attempts since the last success or staff retry: the retry policy's count.
    failures_in_row: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Legs: intended (before the vendor call) and done (after its answer).
    remote_create_intended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remote_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crm_ack_intended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crm_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crm_close_intended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crm_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remote_close_intended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Seen closed by the remote poll, or closed by Crosswalk (close_remote_on_crm_close).
    remote_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The resident's photo, uploaded after the create where the vendor takes
    # files (Lucity media): a leg of its own, retried on its own.
    photo_intended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    photo_attached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Reopened in the CRM after closing: the remote request is still closed, so
    # the next close must be a new one (the remote seen open again first).
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The work a link owes, as the database records it (RQ only delivers it):
    # due_at is when a push is next owed (NULL: nothing owed, or failed for
    # good); a push holds a lease while it works, so a killed job's link is
    # free again when the lease runs out; dispatched_at is when a job was last
    # queued for it (so a waiting job is not queued again every tick).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Other remote records carrying this issue's external id (a create the
    # vendor applied after Crosswalk gave up on it): shown, never silently left.
    # (none_as_null: "no duplicates" is SQL NULL, so the dashboard can count them.)
    remote_duplicates: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    issue: Mapped[Issue] = relationship(back_populates="links")
    integration: Mapped[Integration] = relationship()
    category: Mapped[Category | None] = relationship()


# The dashboard: the issue list filtered by a state (a rare one read from its
# links, not by walking every issue), the oldest pending push, and the links
# with a duplicate remote request (few: a partial index of them alone).
Index("ix_sync_link_state_integration", SyncLink.state, SyncLink.integration_id)
_DUPLICATED = SyncLink.remote_duplicates.is_not(None)
Index(
    "ix_sync_link_duplicates",
    SyncLink.integration_id,
    postgresql_where=_DUPLICATED,
    sqlite_where=_DUPLICATED,
)


class Comment(db.Model):
    __table_args__ = (
        UniqueConstraint("crm_comment_id"),
        UniqueConstraint("issue_id", "remote_key", name="uq_comment_issue_remote_key"),
        UniqueConstraint("issue_id", "crm_key", name="uq_comment_issue_crm_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id"), index=True)
    crm_comment_id: Mapped[int | None]
    # A CRM comment's identity within its issue: its id when the CRM sends one,
    # else a digest of when, who and what (SeeClickFix's documented comment
    # objects carry no id). Also the marker key of the note sent to the remote.
    crm_key: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(20), default="crm")  # crm | remote | crosswalk
    # Identity of a comment imported from the remote system (never import twice).
    remote_key: Mapped[str | None] = mapped_column(String(200))
    # When a CRM comment was written to the remote request (None: not yet).
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    author: Mapped[str | None] = mapped_column(String(300))
    author_role: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    issue: Mapped[Issue] = relationship(back_populates="comments")


class Event(db.Model):
    """The timeline: every step the hub takes, including failures."""

    __table_args__ = (
        Index("ix_event_issue_created", "issue_id", "created_at"),
        # Recent events of a few kinds (the overview's configuration warnings).
        Index("ix_event_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"))
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integration.id"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(10), default="info")  # info | warning | error
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SyncCursor(db.Model):
    """Progress and health of one periodic activity ("crm", "poll:<integration>")."""

    key: Mapped[str] = mapped_column(String(150), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(200))
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Rule(db.Model):
    """Comment-on-field-match rule of an integration (from the YAML; editable later)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    field: Mapped[str] = mapped_column(String(200))
    op: Mapped[str] = mapped_column(String(20))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    from_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    configured: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RuleState(db.Model):
    """Whether a rule's condition held at the last poll of one link (fire once)."""

    __table_args__ = (UniqueConstraint("link_id", "rule_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("sync_link.id"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rule.id"))
    is_true: Mapped[bool] = mapped_column(default=False)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GeocodeCache(db.Model):
    """Reverse-geocoding results by geocoder and rounded coordinates."""

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    address: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportedRequest(db.Model):
    """A remote request the importer looked at: imported once, or skipped with why."""

    __table_args__ = (UniqueConstraint("integration_id", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"))
    remote_id: Mapped[str] = mapped_column(String(100))
    remote_display_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))  # imported | skipped | failed
    reason: Mapped[str | None] = mapped_column(Text)
    # Where the request lies, as the remote system gave it (the boundary map).
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PeriodicRun(db.Model):
    """When each periodic task (``schedule.PeriodicTask.key``) is next due: the
    schedule lives in the database, so a Redis flush or a dead worker loses no
    more than one dispatcher tick."""

    key: Mapped[str] = mapped_column(String(150), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Lease(db.Model):
    """A named lease one process holds until it runs out (the dispatcher: one
    worker at a time queues due work). Taken with a conditional UPDATE, so it
    works the same on SQLite and PostgreSQL."""

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(db.Model):
    """Someone who signs in to the console. ``staff`` watch sync state, retry a
    link and run a periodic job now; ``admin`` also edits rules, messages,
    categories, the boundary and users. Passwords are stored only as werkzeug
    hashes (scrypt)."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    ROLES = ("staff", "admin")

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default="staff")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Flask-Login's user protocol (written out rather than UserMixin so the
    # model does not import the web layer's login library).
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return str(self.id)


class AuditEntry(db.Model):
    """Who changed what, when: every admin edit, every retry and run-now, with
    the value before and after. Read-only in the console; ``actor`` keeps the
    email even if the user is later removed."""

    __table_args__ = (Index("ix_audit_entry_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(50))  # e.g. rule.update, link.retry
    target: Mapped[str] = mapped_column(String(300))  # e.g. "rule 4 (public-works)"
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)


class ConsoleEdit(db.Model):
    """A value an admin set in the console, by the row and the configuration
    key it overrides (``message``, ``closing_messages.999``). ``config load``
    keeps it over the file's value, and lists the difference, until the file
    says the same (the mark is then dropped: the file carries the value, and
    later file changes apply) or the load is told to overwrite. Fields nobody
    edited are not marked, so a file change to them always applies."""

    __table_args__ = (UniqueConstraint("entity", "row_id", "field"),)

    ENTITIES = ("integration", "category", "rule")

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))  # integration | category | rule
    row_id: Mapped[int]  # the id of the Integration, Category or Rule row
    field: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    edited_by: Mapped[str] = mapped_column(String(254))
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
