"""``crosswalk config export``: the configuration as the database holds it
(the file last loaded plus every console edit) written back as an agency
file that ``config load`` accepts unchanged.

Only what differs from a default is written, as an operator would write it;
secrets stay the names of the environment variables holding them. Loading
the export reports no differences with the console (every console edit is
in it), and exporting again gives the same text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from integrations.settings import FEATURE_SWITCHES

from ..agency_config import CrmSettings, GeocoderSettings, parse_agency_config
from ..extensions import db
from ..models import Category, ConsoleEdit, Integration, Rule
from . import vendors
from .console_edits import CATEGORY

HEADER = (
    "# Crosswalk agency configuration, exported by `crosswalk config export`:\n"
    "# the file last loaded with the admin console's edits. Secrets are not in it,\n"
    "# only the names of the environment variables that hold them.\n"
)


def export_config(base_dir: Path | None = None) -> str:
    """The configuration as YAML text, checked by the loader before it is
    returned (a relative boundary path is written relative to ``base_dir``,
    where the file will be)."""
    agency = vendors.agency()
    document: dict[str, Any] = {"agency": _agency(agency, base_dir)}
    document["crm"] = CrmSettings.model_validate(agency.crm).model_dump(
        mode="json", exclude_defaults=True
    )
    geocoder = GeocoderSettings.model_validate(agency.geocoder).model_dump(
        mode="json", exclude_defaults=True
    )
    if geocoder:
        document["geocoder"] = geocoder
    marked = _marked_rows()
    document["integrations"] = [
        _integration(row, marked)
        for row in db.session.execute(db.select(Integration).order_by(Integration.id)).scalars()
        # Disabled because the file dropped it: no longer configuration.
        if row.enabled or row.settings.get("enabled") is False
    ]
    text = HEADER + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=10_000
    )
    # Never hand out a file that would not load: the loader is the judge.
    parse_agency_config(text, source="<export>", base_dir=base_dir)
    return text


def _agency(agency, base_dir: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": agency.name}
    if agency.integration_user and agency.integration_user != agency.name:
        out["integration_user"] = agency.integration_user
    if agency.boundary_path:
        out["boundary"] = _boundary(Path(agency.boundary_path), base_dir)
    if agency.time_zone:
        out["time_zone"] = agency.time_zone
    return out


def _boundary(path: Path, base_dir: Path | None) -> str:
    """Relative to the exported file when it lies beside or below it, else absolute."""
    if base_dir is not None:
        relative = os.path.relpath(path, Path(base_dir).resolve())
        if not relative.startswith(".."):
            return relative
    return str(path)


def _marked_rows() -> set[tuple[str, int]]:
    """(entity, row id) of every row an admin edited in the console."""
    rows = db.session.execute(db.select(ConsoleEdit.entity, ConsoleEdit.row_id)).all()
    return {(entity, row_id) for entity, row_id in rows}


def _integration(row: Integration, marked: set[tuple[str, int]]) -> dict[str, Any]:
    settings = vendors.settings_of(row)
    out = settings.model_dump(
        mode="json", by_alias=True, exclude_defaults=True, exclude={"categories", "rules"}
    )
    out = {"name": settings.name, "kind": settings.kind, **out}
    for switch in FEATURE_SWITCHES:
        # A switch is written only where it differs from the kind's default.
        default = switch in settings.supported_features and (
            switch not in settings.features_off_by_default
        )
        if out.get(switch) == default:
            out.pop(switch, None)
    categories = [
        _category(c)
        for c in db.session.execute(
            db.select(Category).where(Category.integration_id == row.id).order_by(Category.id)
        ).scalars()
        if c.configured or (CATEGORY, c.id) in marked
    ]
    if categories:
        out["categories"] = categories
    rules = _rules(row)
    if rules:
        out["rules"] = rules
    return out


def _category(category: Category) -> dict[str, Any]:
    out: dict[str, Any] = {"remote_id": category.remote_id}
    if category.crm_request_type_id is not None:
        out["crm_request_type_id"] = category.crm_request_type_id
    if category.name and category.name != category.remote_id:
        out["name"] = category.name
    for key in ("acknowledgment_message", "closing_message"):
        if getattr(category, key):
            out[key] = getattr(category, key)
    for key in ("internal", "private"):
        if getattr(category, key):
            out[key] = True
    # Unset in a file keeps what the admin chose; false is the default.
    if category.protected:
        out["protected"] = True
    if category.custom_fields:
        out["custom_fields"] = category.custom_fields
    return out


def _rules(row: Integration) -> list[dict[str, Any]]:
    """Every rule by position (the file's key for a rule), the ones switched
    off as ``enabled: false``: a rule keeps its place, and so its fire-once
    history, whatever is switched off before it."""
    rows = db.session.execute(
        db.select(Rule)
        .where(Rule.integration_id == row.id, Rule.configured.is_(True))
        .order_by(Rule.position, Rule.id)
    ).scalars()
    out = []
    for rule in rows:
        entry: dict[str, Any] = {"field": rule.field, "op": rule.op}
        if rule.from_value is not None:
            entry["from"] = rule.from_value
        if rule.value is not None:
            entry["value"] = rule.value
        entry["message"] = rule.message
        if rule.categories:
            entry["categories"] = list(rule.categories)
        if not rule.enabled:
            entry["enabled"] = False
        out.append(entry)
    return out
