"""Esri ArcGIS GeocodeServer simulator (``reverseGeocode`` only), per vendor-apis.md §4.

Answers with the nearest seeded address point within ``max_distance_m``.
Like the real service, errors come back as HTTP 200 with an ``error`` object,
and a request without ``f=json`` gets an HTML page. ``minimal`` mimics agency
locators that return only ``Match_addr``/``Addr_type``. Only WGS84 (wkid 4326)
is supported; other spatial references are refused rather than mis-answered.

``forStorage`` (``true``/``false``) is accepted as documented. Results that are
stored must be requested with ``forStorage=true``, and Crosswalk stores every
one, so by default (``require_for_storage``) the simulator refuses a request
without it: the real service would answer, and the stored address would break
Esri's terms. With a ``token`` configured it plays the World service, which
requires one: missing is 499 Token Required, wrong is 498 Invalid Token.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from simulators.server import SimulatorState, create_simulator_app

DEFAULT_PATH = "/arcgis/rest/services/World/GeocodeServer"
WGS84 = 4326
EARTH_RADIUS_M = 6_371_008.8
NO_ADDRESS = "Unable to find address for the specified location."
INVALID_QUERY = "Cannot perform query. Invalid query parameters."
NOT_FOR_STORAGE = "Results that are stored must be requested with forStorage=true."


@dataclass(frozen=True)
class AddressPoint:
    house_number: str
    street: str
    city: str
    region: str
    region_abbr: str
    postal: str
    lat: float
    lng: float
    country_code: str = "USA"

    @property
    def short_label(self) -> str:
        return f"{self.house_number} {self.street}"

    @property
    def long_label(self) -> str:
        return (
            f"{self.short_label}, {self.city}, {self.region_abbr}, {self.postal}, "
            f"{self.country_code}"
        )

    @property
    def match_addr(self) -> str:
        return f"{self.short_label}, {self.city}, {self.region}, {self.postal}"


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


class ArcGISState(SimulatorState):
    """Address points plus the locator's behaviour switches."""

    def __init__(
        self,
        *,
        token: str | None = None,
        minimal: bool = False,
        max_distance_m: float = 250.0,
        require_for_storage: bool = True,
        seeder: Callable[[ArcGISState], None] | None = None,
    ) -> None:
        super().__init__(seeder)
        self._initial_config = (token, minimal, max_distance_m, require_for_storage)
        self.reset()

    def clear(self) -> None:
        """Drop the points and undo ``/_sim/config`` changes."""
        self.token, self.minimal, self.max_distance_m, self.require_for_storage = (
            self._initial_config
        )
        self.points: list[AddressPoint] = []

    def add_point(self, point: AddressPoint) -> None:
        with self.lock:
            self.points.append(point)

    def nearest(self, lat: float, lng: float) -> AddressPoint | None:
        """The closest point within ``max_distance_m``, or ``None``."""
        with self.lock:
            ranked = sorted(
                ((distance_m(lat, lng, p.lat, p.lng), i, p) for i, p in enumerate(self.points))
            )
        if not ranked or ranked[0][0] > self.max_distance_m:
            return None
        return ranked[0][2]

    def address_json(self, point: AddressPoint) -> dict[str, Any]:
        if self.minimal:
            return {"Match_addr": point.match_addr, "Addr_type": "PointAddress"}
        return {
            "Match_addr": point.match_addr,
            "LongLabel": point.long_label,
            "ShortLabel": point.short_label,
            "Addr_type": "PointAddress",
            "AddNum": point.house_number,
            "Address": point.short_label,
            "City": point.city,
            "Region": point.region,
            "RegionAbbr": point.region_abbr,
            "Postal": point.postal,
            "CountryCode": point.country_code,
        }

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "token_required": self.token is not None,
                "minimal": self.minimal,
                "max_distance_m": self.max_distance_m,
                "require_for_storage": self.require_for_storage,
                "points": [asdict(p) for p in self.points],
            }


class _LocatorError(Exception):
    def __init__(self, code: int, message: str, details: list[str]) -> None:
        super().__init__(message)
        self.body = {"error": {"code": code, "message": message, "details": details}}


def _parse_location(raw: str | None) -> tuple[float, float]:
    """``x,y`` (longitude first) or a JSON point; returns ``(lat, lng)``."""
    if not raw:
        raise _LocatorError(400, INVALID_QUERY, ["'location' must be specified."])
    try:
        if raw.lstrip().startswith("{"):
            point = json.loads(raw)
            wkid = (point.get("spatialReference") or {}).get("wkid", WGS84)
            if wkid != WGS84:
                raise _LocatorError(400, INVALID_QUERY, [f"Unsupported spatial reference {wkid}."])
            x, y = float(point["x"]), float(point["y"])
        else:
            x_text, y_text = raw.split(",")
            x, y = float(x_text), float(y_text)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _LocatorError(400, INVALID_QUERY, ["Invalid location parameter."]) from None
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        raise _LocatorError(400, INVALID_QUERY, ["Location is out of range."])
    return y, x


def _check_token(state: ArcGISState, token: str | None) -> None:
    if state.token is None:
        return
    if not token:
        raise _LocatorError(499, "Token Required", [])
    if token != state.token:
        raise _LocatorError(498, "Invalid Token", [])


def _check_for_storage(state: ArcGISState, raw: str | None) -> None:
    value = (raw or "false").strip().lower()
    if value not in ("true", "false"):
        raise _LocatorError(400, INVALID_QUERY, [f"Invalid value for forStorage: {raw!r}."])
    if state.require_for_storage and value != "true":
        raise _LocatorError(400, INVALID_QUERY, [NOT_FOR_STORAGE])


def _locator_blueprint(state: ArcGISState, path: str) -> Blueprint:
    bp = Blueprint("arcgis_locator", __name__, url_prefix=path)

    @bp.route("/reverseGeocode", methods=["GET", "POST"])
    def reverse_geocode() -> Response:
        params = request.values
        if params.get("f", "html").lower() not in ("json", "pjson"):
            return Response(
                "<html><body><h2>Reverse Geocode</h2><p>Use f=json.</p></body></html>",
                content_type="text/html",
            )
        try:
            _check_token(state, params.get("token"))
            _check_for_storage(state, params.get("forStorage"))
            out_sr = params.get("outSR")
            if out_sr and out_sr.strip() not in (str(WGS84), json.dumps({"wkid": WGS84})):
                raise _LocatorError(400, INVALID_QUERY, [f"Unsupported outSR {out_sr}."])
            lat, lng = _parse_location(params.get("location"))
            point = state.nearest(lat, lng)
            if point is None:
                raise _LocatorError(400, INVALID_QUERY, [NO_ADDRESS])
        except _LocatorError as exc:
            return jsonify(exc.body)  # ArcGIS reports errors with HTTP 200
        return jsonify(
            {
                "address": state.address_json(point),
                "location": {"x": point.lng, "y": point.lat, "spatialReference": {"wkid": WGS84}},
            }
        )

    return bp


def _control_blueprint(state: ArcGISState) -> Blueprint:
    bp = Blueprint("arcgis_control", __name__, url_prefix="/_sim")

    @bp.post("/config")
    def configure() -> Response:
        body = request.get_json(silent=True) or {}
        with state.lock:
            if "minimal" in body:
                state.minimal = bool(body["minimal"])
            if "token" in body:
                state.token = body["token"]
            if "max_distance_m" in body:
                state.max_distance_m = float(body["max_distance_m"])
            if "require_for_storage" in body:
                state.require_for_storage = bool(body["require_for_storage"])
        return jsonify(
            {
                "minimal": state.minimal,
                "token_required": state.token is not None,
                "max_distance_m": state.max_distance_m,
                "require_for_storage": state.require_for_storage,
            }
        )

    @bp.post("/points")
    def add_point() -> tuple[Response, int]:
        try:
            point = AddressPoint(**(request.get_json(silent=True) or {}))
        except TypeError as exc:
            return jsonify({"error": str(exc)}), 400
        state.add_point(point)
        return jsonify(asdict(point)), 201

    return bp


def create_arcgis_app(state: ArcGISState, path: str = DEFAULT_PATH) -> Flask:
    """The locator app: ``{path}/reverseGeocode`` plus ``/_sim/``."""
    app = create_simulator_app(__name__, state)
    app.register_blueprint(_locator_blueprint(state, path.rstrip("/")))
    app.register_blueprint(_control_blueprint(state))
    return app
