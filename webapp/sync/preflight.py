"""The preflight (``crosswalk check``, the dashboard's Check page): every name
the loaded configuration gives — CRM organization and request types, the
geocoder, each enabled integration's classes, fields and filter columns —
tried once against the live servers, before go-live rather than on the first
push. Read-only: it never writes to a vendor, nor to the database.

Each result is an ``integrations.base.Check``. A check that could not be tried
(a switched-off geocoder, a kind without a preflight yet) passes with a detail
starting ``"skipped: "``; :func:`status` shows it as ``skip``.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.boundary import BoundaryError, load_boundary
from geo.geocode import GeocodeError
from integrations.base import Check
from integrations.errors import (
    IntegrationConfigError,
    IntegrationError,
    NotSupportedError,
    TransientError,
)
from integrations.registry import connector_class
from integrations.rule_settings import RuleSettings
from integrations.seeclickfix import CrmIssue, SeeClickFixClient
from integrations.settings import CategorySettings, IntegrationSettings

from ..extensions import db
from ..models import Agency, Category, Integration, Rule
from . import vendors

SKIPPED = "skipped: "
CRM = "SeeClickFix"
GEOCODER = "ArcGIS geocoder"
# ArcGIS's words when the service works but no address is near the point.
NO_ADDRESS = "Unable to find address"


def status(check: Check) -> str:
    """``ok``, ``FAIL`` or ``skip`` (passed without being tried)."""
    if not check.ok:
        return "FAIL"
    return "skip" if check.detail.startswith(SKIPPED) else "ok"


def summary(checks: list[Check]) -> str:
    failed = sum(1 for c in checks if status(c) == "FAIL")
    skipped = sum(1 for c in checks if status(c) == "skip")
    passed = len(checks) - failed - skipped
    return f"{len(checks)} checks: {passed} ok, {failed} failed, {skipped} skipped"


def run_preflight() -> list[Check]:
    """Every check, in the order a push meets the systems: CRM, geocoder, integrations."""
    agency = vendors.agency()
    crm = _crm_checks(agency)
    checks = [*crm.checks, *_geocoder_checks(agency, crm.point)]
    rows = db.session.execute(
        db.select(Integration).where(Integration.enabled.is_(True)).order_by(Integration.id)
    ).scalars()
    for integration in rows:
        checks.extend(_integration_checks(integration))
    return checks


# ---------------------------------------------------------------------- the CRM
@dataclass
class CrmResult:
    checks: list[Check]
    point: tuple[float, float] | None = None  # (lat, lng) of the issue read


def _crm_setting(exc: IntegrationError) -> str:
    """Which key of ``crm`` a failed read points at."""
    if isinstance(exc, IntegrationConfigError) or exc.status in (401, 403):
        return "crm.token_env"
    if exc.status == 404:
        return "crm.organization_id"
    return "crm.base_url"


def _crm_checks(agency: Agency) -> CrmResult:
    settings = vendors.crm_settings(agency)
    name = f"sign in and list one issue of organization {settings.organization_id}"
    try:
        client = vendors.crm_client(agency)
        client.per_page = 1  # one issue proves the token and the organization
        page = client.issues_page(None, 1)
    except IntegrationError as exc:
        return CrmResult([Check(CRM, name, False, str(exc), _crm_setting(exc))])
    first = page.issues[0].item if page.issues else None
    if isinstance(first, ValueError):
        detail = f"an issue could not be read: {first}"
        return CrmResult([Check(CRM, name, False, detail, None)], None)
    result = CrmResult([Check(CRM, name, True, _listed(first), "crm.organization_id")])
    if isinstance(first, CrmIssue) and first.lat is not None and first.lng is not None:
        result.point = (first.lat, first.lng)
    result.checks.extend(_request_type_checks(client))
    return result


def _listed(issue: CrmIssue | None) -> str:
    if issue is None:
        return "accepted; the organization has no issues yet"
    return f"accepted; read issue {issue.id} ({issue.status})"


def _request_type_checks(client: SeeClickFixClient) -> list[Check]:
    """The request type of every mapped category, each read once."""
    mapped = db.session.execute(
        db.select(Category, Integration.name)
        .join(Integration, Category.integration_id == Integration.id)
        .where(
            Integration.enabled.is_(True),
            Category.enabled.is_(True),
            Category.crm_request_type_id.is_not(None),
        )
        .order_by(Category.crm_request_type_id, Category.id)
    ).all()
    checks: list[Check] = []
    seen: set[int] = set()
    for category, integration_name in mapped:
        type_id = category.crm_request_type_id
        if type_id in seen:
            continue
        seen.add(type_id)
        name = f"request type {type_id} (category {category.remote_id})"
        setting = f"integrations[{integration_name}].categories[{category.remote_id}]"
        setting += ".crm_request_type_id"
        try:
            found = client.get_request_type(type_id)
        except IntegrationError as exc:
            checks.append(Check(CRM, name, False, str(exc), setting))
            continue
        detail = f"{found.get('title')!r}, {len(found['questions'])} question(s)"
        checks.append(Check(CRM, name, True, detail, setting))
    return checks


# ----------------------------------------------------------------- the geocoder
def _geocoder_checks(agency: Agency, crm_point: tuple[float, float] | None) -> list[Check]:
    settings = vendors.geocoder_settings(agency)
    name = "reverse geocode one point"
    if not settings.enabled:
        detail = f"{SKIPPED}the geocoder is switched off: requests carry the reported address"
        return [Check(GEOCODER, name, True, detail, "geocoder.enabled")]
    point, where = _sample_point(agency, crm_point)
    if point is None:
        detail = f"{SKIPPED}no agency boundary and no CRM issue with coordinates to try"
        return [Check(GEOCODER, name, True, detail, "agency.boundary")]
    name = f"reverse geocode {where} ({point[0]:.5f}, {point[1]:.5f})"
    try:
        geocoder = vendors.geocoder(agency)
        address = geocoder.reverse(*point) if geocoder is not None else None
    except IntegrationError as exc:  # its token variable is not set
        return [Check(GEOCODER, name, False, str(exc), "geocoder.token_env")]
    except GeocodeError as exc:
        if NO_ADDRESS in str(exc):
            detail = f"the service answered, with no address near this point: {exc}"
            return [Check(GEOCODER, name, True, detail, "geocoder.url")]
        return [Check(GEOCODER, name, False, str(exc), _geocoder_setting(str(exc)))]
    label = address.label if address else f"{SKIPPED}the geocoder is switched off"
    return [Check(GEOCODER, name, True, label, "geocoder.url")]


def _geocoder_setting(text: str) -> str:
    """ArcGIS says 498 (invalid or expired token) and 499 (token required)."""
    token_words = ("error 498", "error 499", "Token")
    return "geocoder.token_env" if any(w in text for w in token_words) else "geocoder.url"


def _sample_point(
    agency: Agency, crm_point: tuple[float, float] | None
) -> tuple[tuple[float, float] | None, str]:
    """A point inside the agency boundary, ``(lat, lng)``, and what it is.

    A reported issue's location comes first (residents report from streets,
    where a locator finds an address); else a point the boundary's polygon
    guarantees is inside it; without a boundary, the issue's location."""
    boundary = None
    if agency.boundary_path:
        try:
            boundary = load_boundary(agency.boundary_path)
        except BoundaryError:
            boundary = None  # load refused it already; the importer reports it
    if crm_point and (boundary is None or boundary.contains(crm_point[1], crm_point[0])):
        return crm_point, "a CRM issue's location"
    if boundary is not None:
        inside = boundary.polygon.representative_point()
        return (inside.y, inside.x), "a point inside the agency boundary"
    return None, ""


# ----------------------------------------------------------------- integrations
def _integration_checks(integration: Integration) -> list[Check]:
    label = connector_class(integration.kind).settings_model.label or integration.kind
    system = f"{integration.name} ({label})"
    try:
        connector = vendors.new_connector(integration, _full_settings(integration))
    except IntegrationError as exc:  # a secret the environment lacks
        key = "password_env" if "password" in str(exc) else "username_env"
        setting = f"integrations[{integration.name}].{key}"
        return [Check(system, "credentials", False, str(exc), setting)]
    try:
        return connector.preflight()
    except NotSupportedError:
        detail = f"{SKIPPED}{label} integrations have no preflight yet"
        return [Check(system, "preflight", True, detail, None)]
    except IntegrationError as exc:  # one the kind's preflight did not turn into a check
        setting = f"integrations[{integration.name}].endpoints"
        shown = setting if isinstance(exc, TransientError) else None
        return [Check(system, "preflight", False, str(exc), shown)]
    finally:
        connector.close()


def _full_settings(integration: Integration) -> IntegrationSettings:
    """The stored settings with the categories and rules the database holds
    (they are stored as rows, not in the settings), so that a connector's
    preflight can try every custom field and rule field too."""
    categories = db.session.execute(
        db.select(Category)
        .where(Category.integration_id == integration.id, Category.enabled.is_(True))
        .order_by(Category.id)
    ).scalars()
    rules = db.session.execute(
        db.select(Rule)
        .where(
            Rule.integration_id == integration.id,
            Rule.enabled.is_(True),
            Rule.configured.is_(True),
        )
        .order_by(Rule.position)
    ).scalars()
    return vendors.settings_of(integration).model_copy(
        update={
            "categories": [
                CategorySettings.model_validate(
                    {
                        "remote_id": c.remote_id,
                        "crm_request_type_id": c.crm_request_type_id,
                        "custom_fields": c.custom_fields or {},
                    }
                )
                for c in categories
            ],
            # Only the field names matter here: built without validation, as stored.
            "rules": [
                RuleSettings.model_construct(field=r.field, op=r.op, message=r.message)
                for r in rules
            ],
        }
    )
