"""URL converters. ``<int:...>`` in every route is a database id, stored as a
32-bit integer: a larger number in a URL can name no row, and passing it to
the database makes PostgreSQL raise (a 500), so the route simply does not
match it (a 404)."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

from ..models import DATABASE_INT_MAX


class DatabaseIdConverter(IntegerConverter):
    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", DATABASE_INT_MAX)
        super().__init__(map, *args, **kwargs)
