"""The admin console at /admin (Flask-Admin 2, admins only): rules and their
live preview, messages, categories, users and the audit log.

Views are thin: they parse a form, call an engine entry point
(``webapp.sync.engine``) or a read-only query (``admin_queries``), and render.
Every page runs under the app's Content-Security-Policy (no inline script or
style): the templates are Crosswalk's own, on Flask-Admin's bundled
Bootstrap 4, and load only ``/admin/static`` and ``/static`` files.
"""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.menu import MenuLink
from flask_admin.theme import Bootstrap4Theme

from ..extensions import db
from ..models import AuditEntry
from .audit_log import AuditLogView
from .categories import CategoriesView
from .home import HomeView
from .messages import MessagesView
from .rules import RulesView
from .users import UsersView


def init_app(app: Flask) -> None:
    """A console per app (Flask-Admin views hold their blueprint: one app each)."""
    admin = Admin(
        name="Crosswalk admin",
        url="/admin",
        endpoint="admin",
        index_view=HomeView(name="Home", url="/admin", endpoint="admin"),
        theme=Bootstrap4Theme(base_template="admin/crosswalk/base.html"),
    )
    admin.add_view(RulesView(name="Rules", endpoint="admin_rules", url="/admin/rules"))
    admin.add_view(MessagesView(name="Messages", endpoint="admin_messages", url="/admin/messages"))
    admin.add_view(
        CategoriesView(name="Categories", endpoint="admin_categories", url="/admin/categories")
    )
    admin.add_view(UsersView(name="Users", endpoint="admin_users", url="/admin/users"))
    admin.add_view(
        AuditLogView(AuditEntry, db, name="Audit log", endpoint="admin_audit", url="/admin/audit")
    )
    admin.add_link(MenuLink(name="Dashboard", url="/"))
    admin.init_app(app)
