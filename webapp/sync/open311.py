"""Open311 GeoReport v2 service list built from the enabled categories, so
public report forms can offer them (internal categories are never published)."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import Category, Integration, RequestType

# CRM question types → GeoReport v2 attribute datatypes.
DATATYPES = {
    "text": "string",
    "textarea": "text",
    "select": "singlevaluelist",
    "multivaluelist": "multivaluelist",
    "number": "number",
    "datetime": "datetime",
    "boolean": "singlevaluelist",
    "file": "string",
}


def published_categories() -> list[Category]:
    return list(
        db.session.execute(
            db.select(Category)
            .join(Integration)
            .where(
                Integration.enabled.is_(True),
                Category.enabled.is_(True),
                Category.internal.is_(False),
            )
            .order_by(Category.group_name.nulls_last(), Category.name, Category.id)
        ).scalars()
    )


def _questions(category: Category) -> list[dict[str, Any]]:
    if category.crm_request_type_id is None:
        return []
    request_type = db.session.get(RequestType, category.crm_request_type_id)
    return list(request_type.questions) if request_type else []


PRIVATE_NOTE = "Reports in this category are private: only agency staff can see them."


def service(category: Category) -> dict[str, Any]:
    """One GeoReport service. A private category is offered (residents report
    it) and says that reports are not public: GeoReport v2 has no flag for it."""
    name = category.name or category.remote_id
    return {
        "service_code": category.remote_id,
        "service_name": name,
        "description": f"{name}. {PRIVATE_NOTE}" if category.private else name,
        "metadata": bool(_questions(category)),
        "type": "realtime",
        "keywords": "",
        "group": category.group_name or "",
    }


def attribute(question: dict[str, Any], order: int) -> dict[str, Any]:
    qtype = str(question.get("question_type") or "text")
    values = [
        {"key": str(v.get("key")), "name": str(v.get("name") or v.get("key"))}
        for v in question.get("select_values") or []
        if isinstance(v, dict)
    ]
    if qtype == "boolean" and not values:
        values = [{"key": "true", "name": "Yes"}, {"key": "false", "name": "No"}]
    return {
        "variable": qtype != "note",  # a note is information, not a question
        "code": str(question.get("primary_key") or order),
        "datatype": DATATYPES.get(qtype, "string"),
        "required": bool(question.get("response_required")),
        "datatype_description": "",
        "order": order,
        "description": str(question.get("question") or ""),
        "values": values,
    }


def service_definition(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.remote_id,
        "attributes": [attribute(q, i) for i, q in enumerate(_questions(category), start=1)],
    }


def find_published(code: str) -> Category | None:
    return next((c for c in published_categories() if c.remote_id == code), None)
