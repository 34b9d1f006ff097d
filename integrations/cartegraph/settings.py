"""Configuration keys of the ``cartegraph`` kind (OpenGov EAM / Cartegraph OMS)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from ..settings import IntegrationSettings


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
    external_id_field: str = Field("SeeClickFixIDField", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    request_class: str = Field("cgRequestsClass", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    # Requesters: found by email, else created. The class name is not
    # documented publicly, so it is configurable; RequesterField gets the
    # requester's reference (its name as Cartegraph shows it, or its Oid).
    requester_class: str | None = Field("cgRequestersClass", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    requester_reference: Literal["name", "oid", "email"] = "name"
    comments_field: Literal["CommentsField", "NotesField"] = "CommentsField"
    # Comments marked public in OpenGov EAM (import_comments: true). Where they
    # live is not documented publicly: a child class whose records name their
    # request, with these fields.
    comment_class: str = Field("cgRequestsClass_cgCommentsClass", pattern=r"^[A-Za-z][\w]*$")
    comment_parent_field: str = "ParentOid"
    comment_text_field: str = "CommentField"
    comment_public_field: str = "PublicField"
    comment_author_field: str | None = "AuthorField"
    comment_date_field: str | None = "DateField"
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
    category_class: str = Field("cgRequestIssuesClass", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    service_area_field: str | None = "ServiceAreaField"
    timeout: float = Field(30.0, gt=0, le=300)

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
