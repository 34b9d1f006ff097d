"""Configuration keys of the CentralSquare EAM (Lucity) kinds.

Where the public material is silent (internal API paths, comment and
document endpoints, the external-reference field), every path and field name
lives here, with defaults that match the common install, so an agency's
variant is a configuration change rather than a code fork.
"""

from __future__ import annotations

from string import Formatter
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from geo.projection import ProjectionError, check_srid

from ..config_types import Environment, HttpUrl, Message, StrictModel, check_query
from ..settings import IntegrationSettings


def _status_code(value: object) -> str:
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"keys must be numeric status codes, got {value!r}")
    return text


# Message maps are keyed by status code ("999"); YAML may give 999 or "999".
StatusCode = Annotated[str, BeforeValidator(_status_code)]


def _relative_path(value: str) -> str:
    """A path under the configured endpoint, with ``{auto}`` its only placeholder.

    The Lucity credentials go with every call: an absolute URL (or ``//host``,
    or ``..`` climbing out of the endpoint) would send them elsewhere. Any
    other placeholder would fail at the first call, or read attributes
    (``{auto.__class__}``) through ``str.format``."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith(("/", "\\")) or "\\" in value:
        raise ValueError(
            f"must be a path relative to the endpoint, like 'Work/Requests.svc/' (got {value!r})"
        )
    if ".." in value.split("/"):
        raise ValueError(f"may not climb out of the endpoint with '..' (got {value!r})")
    if any(c.isspace() or not c.isprintable() or c == "#" for c in value):
        raise ValueError(f"may not contain spaces, control characters or '#' (got {value!r})")
    check_query(parts.query)
    try:
        parsed = Formatter().parse(value)
        fields = [(name, spec, conv) for _, name, spec, conv in parsed if name is not None]
    except ValueError as exc:
        raise ValueError(f"bad placeholder in {value!r}: {exc}") from None
    if any(field != ("auto", "", None) for field in fields):
        raise ValueError(f"the only placeholder allowed is {{auto}} (got {value!r})")
    return value


RelativePath = Annotated[str, AfterValidator(_relative_path)]
# A FILTER table or column name: written into the FILTER text as it is, so a
# space or a quote would change the query rather than name a column.
SqlName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# A JSON property of a Lucity record (``User20``, ``PubliclyAvailable``).
PropertyName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]


class LucityPaths(StrictModel):
    """Endpoint paths, relative to the endpoint; ``{auto}`` is a record's AutoNumber.

    Documented (the vendor's citizen sample and REST help): ``citizen_create``,
    ``citizen_media`` and ``problem_code_lookup`` on the citizen API, and the
    module lists ``requests``/``work_orders`` under the internal API. Not in the
    public record (check them with ``crosswalk check``): the single-record
    paths, the ``Comments`` children, and ``request_documents`` (read only to
    import Publicly Available documents)."""

    # -- the citizen API (``endpoints``) -------------------------------------
    citizen_create: RelativePath = "Requests.svc/"
    # multipart/form-data, the file in the field ``FileToUpload``.
    citizen_media: RelativePath = "Requests.svc/{auto}/media/"
    # ``[{"CodeValue", "TypeValue"}]``: the problem codes offered to residents.
    problem_code_lookup: RelativePath = "LookupList/Request.svc/ProblemCode/?311Only=true"
    # -- the internal API (``internal_endpoints``) ---------------------------
    requests: RelativePath = "Work/Requests.svc/"
    request: RelativePath = "Work/Requests.svc/{auto}"
    request_comments: RelativePath = "Work/Requests.svc/{auto}/Comments"
    request_documents: RelativePath = "Work/Requests.svc/{auto}/Documents"
    work_orders: RelativePath = "Work/WorkOrders.svc/"
    work_order: RelativePath = "Work/WorkOrders.svc/{auto}"
    work_order_comments: RelativePath = "Work/WorkOrders.svc/{auto}/Comments"


class LucityColumns(StrictModel):
    """FILTER table and column names (the database columns behind the JSON properties).

    Public SQL shows ``WKREQ`` with ``RQ_ID``, ``RQ_NUMBER``, ``RQ_STAT_CD``, and
    ``WKORDER.WO_ID``; the rest are not in the public record (``crosswalk check``
    reads one record with a FILTER on each)."""

    request_table: SqlName = "WKREQ"
    request_number: SqlName = "RQ_NUMBER"
    request_id: SqlName = "RQ_ID"
    request_status: SqlName = "RQ_STAT_CD"
    request_entry_date: SqlName = "RQ_ENTRY_DT"  # not in the public record
    request_external_id: SqlName = "RQ_EXTERNAL_ID"  # not in the public record
    work_order_table: SqlName = "WKORDER"
    work_order_id: SqlName = "WO_ID"
    work_order_status: SqlName = "WO_STAT_CD"  # not in the public record
    work_order_external_id: SqlName = "WO_EXTERNAL_ID"  # not in the public record


class LucitySettings(IntegrationSettings):
    """Keys shared by both Lucity kinds."""

    # The internal REST API (HTTP Basic) per environment; by default the
    # ``/LucityWebAPI`` alias on the same server as the citizen API.
    internal_endpoints: dict[Environment, HttpUrl] = Field(default_factory=dict)
    # EPSG code of the agency's coordinates; none: send WGS84 (COORDSYS=LATLONG).
    srid: int | None = None
    take: int = Field(50, ge=1, le=1000)  # page size; SKIP is always a multiple of it
    # Where the CRM issue id is kept (not in the public record; the vendor guide
    # names User… fields as the agency's to fill).
    external_id_property: PropertyName = "User20"
    # The comment and document property that says "Publicly Available" (the
    # vendor guide names the checkbox, no public source its JSON name).
    public_property: PropertyName = "PubliclyAvailable"
    recorded_by_default: str = "SeeClickFix"
    # Lucity dates are agency local time without an offset (the importer's
    # entry-date FILTER); the zone is the agency's, not in any public record.
    timezone: str = "UTC"
    timeout: float = Field(30.0, gt=0, le=300)
    paths: LucityPaths = Field(default_factory=LucityPaths)
    columns: LucityColumns = Field(default_factory=LucityColumns)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use e.g. America/New_York)") from None
        return value

    @field_validator("srid")
    @classmethod
    def _usable_srid(cls, value: int | None) -> int | None:
        if value is None:
            return None
        try:
            return check_srid(value).srid
        except ProjectionError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _internal_endpoint_present(self) -> LucitySettings:
        if self.internal_endpoints and self.environment not in self.internal_endpoints:
            raise ValueError(
                f"environment is {self.environment!r} but internal_endpoints has no "
                f"{self.environment!r} URL"
            )
        return self

    @property
    def internal_endpoint(self) -> str:
        """The internal API of the live environment (never the other one)."""
        if self.internal_endpoints:
            return self.internal_endpoints[self.environment]
        parts = urlsplit(self.endpoint)
        return urlunsplit(parts._replace(path="/LucityWebAPI", query="", fragment=""))


class LucityWorkRequestSettings(LucitySettings):
    label: ClassVar[str] = "CentralSquare EAM (Lucity) Work Requests"
    supported_features: ClassVar[frozenset[str]] = frozenset(
        {
            "sync_categories",
            "import_requests",
            "geocode",
            "import_comments",
            "import_images",
            "close_remote_on_crm_close",
        }
    )
    # Closing the remote request writes to the agency's system: they opt in.
    features_off_by_default: ClassVar[frozenset[str]] = frozenset({"close_remote_on_crm_close"})

    kind: Literal["lucity-work-requests"]
    # Sent as ``CategoryCode`` on every create (the vendor guide's "SCF"); which
    # problem codes are offered is the server's answer to ``311Only=true``.
    category_code: str = "SCF"
    # The property holding the resident's text: the citizen sample sends no
    # description field, so the name is the agency's to confirm.
    description_property: PropertyName = "Comments"
    closed_status_at_least: int = Field(950, ge=1)
    closing_messages: dict[StatusCode, Message] = Field(default_factory=dict)
    # close_remote_on_crm_close: the status code a request gets (through a PUT
    # of the record on the internal API, paths.request) when staff close the
    # CRM issue; the note becomes a comment. No public source shows a status
    # written through either API, so the code is configurable (951, "Work
    # Order Canceled", by default); it must be a closed code
    # (>= closed_status_at_least) so that the next poll reads it as closed.
    crm_close_status_code: int = Field(951, ge=1)

    @model_validator(mode="after")
    def _crm_close_status_is_closed(self) -> LucityWorkRequestSettings:
        # The default is judged only when the switch uses it, so an agency with
        # a higher threshold is not refused for a feature it left off.
        used = self.close_remote_on_crm_close or "crm_close_status_code" in self.model_fields_set
        if used and self.crm_close_status_code < self.closed_status_at_least:
            raise ValueError(
                f"crm_close_status_code {self.crm_close_status_code} is below "
                f"closed_status_at_least ({self.closed_status_at_least}): a request closed "
                "from the CRM must read as closed on the next poll"
            )
        return self


class LucityWorkOrderSettings(LucitySettings):
    """Exactly create, comments both ways, close and comment by status code: the
    vendor guide's Work Order module offers nothing more."""

    label: ClassVar[str] = "CentralSquare EAM (Lucity) Work Order module"
    supported_features: ClassVar[frozenset[str]] = frozenset({"import_comments"})

    kind: Literal["lucity-work-orders"]
    # The work order's text (and the photo's link: see the connector); not in
    # the public record.
    description_property: PropertyName = "Description"
    close_at_status: list[int] = Field(default_factory=lambda: [998, 999], min_length=1)
    # A comment posted to the CRM when the work order reaches a status code;
    # for a closing code it is the closing message.
    status_messages: dict[StatusCode, Message] = Field(default_factory=dict)
