"""The audit log, read-only, newest first: a Flask-Admin model list (paging,
sorting, search) in a template of Crosswalk's own (no inline script)."""

from __future__ import annotations

import json
from typing import Any

from flask_admin.contrib.sqla import ModelView
from markupsafe import Markup, escape

from .access import AdminOnly


def _json(view: Any, context: Any, model: Any, name: str) -> Markup:
    value = getattr(model, name)
    if value is None:
        return Markup("")
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return Markup(f"<code>{escape(text)}</code>")


def _when(view: Any, context: Any, model: Any, name: str) -> str:
    return model.at.strftime("%Y-%m-%d %H:%M:%S UTC")


class AuditLogView(AdminOnly, ModelView):
    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False
    can_export = False
    column_display_actions = False
    list_template = "admin/crosswalk/audit.html"
    column_list = ("at", "actor", "action", "target", "before", "after")
    column_labels = {"at": "When"}
    column_default_sort = [("at", True), ("id", True)]
    column_sortable_list = ("at", "actor", "action")
    column_searchable_list = ("actor", "action", "target")
    column_formatters = {"at": _when, "before": _json, "after": _json}
    page_size = 50
    can_set_page_size = False
