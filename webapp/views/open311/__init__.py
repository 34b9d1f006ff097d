"""Open311 GeoReport v2: the enabled categories as public services."""

from flask import Blueprint, jsonify

from ...sync import open311

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")


@bp.get("/services.json")
def services():
    return jsonify([open311.service(c) for c in open311.published_categories()])


@bp.get("/services/<path:code>.json")
def service_definition(code: str):
    category = open311.find_published(code)
    if category is None:
        return jsonify([{"code": 404, "description": f"service_code {code!r} not found"}]), 404
    return jsonify(open311.service_definition(category))
