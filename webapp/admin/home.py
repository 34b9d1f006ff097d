"""The console's first page: what needs a look, and what the console changed
that the configuration file does not say yet."""

from __future__ import annotations

from typing import Any

from flask_admin import expose

from ..sync import admin_queries
from .access import AdminHomeView


class HomeView(AdminHomeView):
    @expose("/")
    def index(self) -> Any:
        rules = admin_queries.rules_by_integration()
        categories = admin_queries.categories_for_review()
        return self.render(
            "admin/crosswalk/home.html",
            rule_groups=rules,
            review=[row for row in categories if row.needs_review],
            pending=admin_queries.console_edits_pending(),
        )
