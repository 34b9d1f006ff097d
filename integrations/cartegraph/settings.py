"""Configuration keys of the ``cartegraph`` kind (OpenGov EAM / Cartegraph OMS)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..settings import IntegrationSettings, StrictModel

CLASS_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
# The documented child-class naming: ``{parent without "Class"}_{child}Class``
# (``cgSigns_cgInspectionsClass``, ``cgBridges_cgAttachmentsClass``).
COMMENT_CHILD = "cgComments"
# Cartegraph's OMS sync guide: "The name is SeeClickFix."
FIXED_REQUESTER = "SeeClickFix"


def child_class(parent: str, child: str) -> str:
    """``child_class("cgRequestsClass", "cgComments")`` → ``cgRequests_cgCommentsClass``."""
    base = parent[: -len("Class")] if parent.endswith("Class") and parent != "Class" else parent
    return f"{base}_{child}Class"


class RequesterSettings(StrictModel):
    """What ``RequesterField`` carries on a new request.

    The two vendor guides disagree, and agencies follow one or the other:

    * ``find_or_create`` — SeeClickFix's OpenGov EAM guide: the resident's
      requester record is found by email in ``requester_class``, else created
      (email, names and the private secondary questions), and ``RequesterField``
      names it (``requester_reference``).
    * ``fixed`` — Cartegraph's own OMS sync guide: RequesterField "is specified
      once when the integration is defined and sent with every service request
      creation. The name is SeeClickFix." Nothing but the request is written,
      and no requester class is needed (its name is not in the public record).
    """

    mode: Literal["find_or_create", "fixed"] = "find_or_create"
    # With mode fixed: the value of every request's RequesterField (default
    # "SeeClickFix", the OMS guide's); None with find_or_create.
    value: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _value_only_when_fixed(self) -> RequesterSettings:
        if self.mode == "fixed" and self.value is None:
            self.value = FIXED_REQUESTER
        elif self.mode != "fixed" and self.value is not None:
            raise ValueError(
                "value is only sent with mode: fixed (find_or_create sends the "
                "requester it found or created)"
            )
        return self

    @property
    def fixed_value(self) -> str:
        """RequesterField with mode fixed (set by validation)."""
        return self.value or FIXED_REQUESTER


class CartegraphSettings(IntegrationSettings):
    label: ClassVar[str] = "OpenGov EAM (Cartegraph)"
    supported_features: ClassVar[frozenset[str]] = frozenset(
        {
            "sync_categories",
            "import_requests",
            "geocode",
            "import_comments",
            "close_remote_on_crm_close",
        }
    )
    # Cartegraph OMS keeps comments to itself; OpenGov EAM can share public ones.
    # Closing the remote request writes to the agency's system: they opt in.
    features_off_by_default: ClassVar[frozenset[str]] = frozenset(
        {"import_comments", "close_remote_on_crm_close"}
    )

    kind: Literal["cartegraph"]
    # The remote field that carries the CRM issue id: how a retry finds the
    # request it already created, and how the importer skips our own.
    external_id_field: str = Field("SeeClickFixIDField", pattern=CLASS_NAME)
    request_class: str = Field("cgRequestsClass", pattern=CLASS_NAME)
    # Default find_or_create: the OpenGov EAM guide's behaviour and what files
    # loaded before this key existed got (see RequesterSettings).
    requester: RequesterSettings = Field(default_factory=RequesterSettings)
    # find_or_create: requesters are found by email, else created. The class
    # name is not documented publicly, so it is configurable; RequesterField
    # gets the requester's reference (its name as Cartegraph shows it, or its Oid).
    requester_class: str | None = Field("cgRequestersClass", pattern=CLASS_NAME)
    requester_reference: Literal["name", "oid", "email"] = "name"
    comments_field: Literal["CommentsField", "NotesField"] = "CommentsField"
    # Comments marked public in OpenGov EAM (import_comments: true): records of
    # a child class of the request class. The naming and the child path are
    # documented (``cgRequests_cgCommentsClass`` read at
    # ``/classes/cgRequestsClass/{Oid}/cgRequests_cgCommentsClass``); the
    # comment fields are not, so they are settings. None: the documented name
    # derived from request_class.
    comment_class: str | None = Field(None, pattern=CLASS_NAME)
    # How comments are read: ``per_request`` (the documented child path, one
    # read per request) or ``batch`` (one filtered query per batch of requests
    # on the child class itself, by comment_parent_field). Batch costs one
    # request instead of a hundred, but neither a child class queried on its
    # own nor its parent field appears in the public record: `crosswalk check`
    # tells whether the agency's server answers it.
    comment_query: Literal["per_request", "batch"] = "per_request"
    comment_parent_field: str = Field("ParentOid", pattern=CLASS_NAME)
    comment_text_field: str = Field("CommentField", pattern=CLASS_NAME)
    comment_public_field: str = Field("PublicField", pattern=CLASS_NAME)
    comment_author_field: str | None = Field("AuthorField", pattern=CLASS_NAME)
    comment_date_field: str | None = Field("DateField", pattern=CLASS_NAME)
    closed_statuses: list[str] = Field(default_factory=lambda: ["Closed"], min_length=1)
    # close_remote_on_crm_close: the StatusField value a request gets when staff
    # close the CRM issue (the note goes to comments_field). How a status is
    # written through the API is not documented publicly, so it is
    # configurable; it must be one of closed_statuses, so that the next poll
    # reads the request as closed.
    crm_close_status: str = Field("Closed", min_length=1)
    batch_size: int = Field(100, ge=1, le=100)
    # Category sync ("Request Issues"); the service-area grouping field is not
    # documented publicly, so it is configurable.
    category_class: str = Field("cgRequestIssuesClass", pattern=CLASS_NAME)
    service_area_field: str | None = Field("ServiceAreaField", pattern=CLASS_NAME)
    timeout: float = Field(30.0, gt=0, le=300)

    @field_validator("requester", mode="before")
    @classmethod
    def _requester_shorthand(cls, value: Any) -> Any:
        # `requester: fixed` reads as `requester: {mode: fixed}`.
        return {"mode": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _documented_comment_class(self) -> CartegraphSettings:
        if self.comment_class is None:
            self.comment_class = child_class(self.request_class, COMMENT_CHILD)
        return self

    @model_validator(mode="after")
    def _crm_close_status_is_closed(self) -> CartegraphSettings:
        # The default is judged only when the switch uses it, so an agency whose
        # closed statuses have other names is not refused for a feature it left off.
        used = self.close_remote_on_crm_close or "crm_close_status" in self.model_fields_set
        if used and self.crm_close_status not in self.closed_statuses:
            raise ValueError(
                f"crm_close_status {self.crm_close_status!r} is not one of closed_statuses "
                f"({', '.join(self.closed_statuses)}): a request closed from the CRM must "
                "read as closed on the next poll"
            )
        return self

    @property
    def comment_child_class(self) -> str:
        """The comment class (always set after validation)."""
        return self.comment_class or child_class(self.request_class, COMMENT_CHILD)
