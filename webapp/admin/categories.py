"""Categories: their CRM request type, internal, private, protected; the
unmapped and the private-but-not-internal ones listed first."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose

from ..sync import admin_queries, engine
from .access import AdminView, actor
from .forms import CategoryForm


class CategoriesView(AdminView):
    @expose("/")
    def index(self) -> Any:
        rows = admin_queries.categories_for_review()
        return self.render(
            "admin/crosswalk/categories.html",
            rows=rows,
            review=sum(1 for row in rows if row.needs_review),
        )

    @expose("/<int:category_id>/", methods=("GET", "POST"))
    def edit(self, category_id: int) -> Any:
        row = admin_queries.category(category_id)
        category = row.category
        errors: dict[str, list[str]] = {}
        if request.method == "POST":
            form = CategoryForm()
            form.validate()
            errors = dict(form.errors)
            type_id = (form.crm_request_type_id.data or "").strip()
            if type_id and not type_id.isdigit():
                errors["crm_request_type_id"] = [f"{type_id!r} is not a request type id (a number)"]
            if not errors:
                result = engine.save_category(
                    actor(),
                    category_id,
                    {
                        "crm_request_type_id": int(type_id) if type_id else None,
                        "internal": form.internal.data,
                        "private": form.private.data,
                        "protected": form.protected.data,
                    },
                )
                if result.ok:
                    changed = ", ".join(sorted(result.changed)) or "nothing changed"
                    flash(f"Category {category.remote_id} saved ({changed}).", "success")
                    return redirect(url_for(".index"))
                errors = result.errors
        else:
            form = CategoryForm(
                data={
                    "crm_request_type_id": str(category.crm_request_type_id or ""),
                    "internal": category.internal,
                    "private": category.private,
                    "protected": category.protected,
                }
            )
        return self.render(
            "admin/crosswalk/category_edit.html",
            row=row,
            form=form,
            errors=errors,
            request_types=admin_queries.request_types(),
        ), (400 if errors else 200)
