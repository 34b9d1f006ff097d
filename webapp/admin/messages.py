"""Messages residents read: per integration, per category and (Lucity) per
status code, with a preview of what is posted and which level wins."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose

from ..sync import admin_queries, engine
from .access import AdminView, actor
from .forms import CategoryMessagesForm, IntegrationMessagesForm


class MessagesView(AdminView):
    @expose("/")
    def index(self) -> Any:
        integrations = admin_queries.integrations()
        if len(integrations) == 1:
            return redirect(url_for(".integration", integration_id=integrations[0].id))
        return self.render("admin/crosswalk/messages_index.html", integrations=integrations)

    def _page(
        self,
        integration_id: int,
        form: IntegrationMessagesForm | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        category_errors: dict[int, dict[str, list[str]]] | None = None,
        category_forms: dict[int, CategoryMessagesForm] | None = None,
        status_rows: list[tuple[str, str]] | None = None,
        status: int = 200,
    ) -> Any:
        integration = admin_queries.integration(integration_id)
        settings = integration.settings
        if form is None:
            form = IntegrationMessagesForm(
                data={
                    "acknowledgment_message": settings.get("acknowledgment_message") or "",
                    "closing_message": settings.get("closing_message") or "",
                }
            )
        preview = engine.preview_messages(integration.id)
        forms = dict(category_forms or {})
        for row in preview.categories:
            category = row.category
            if category is not None and category.id not in forms:
                forms[category.id] = CategoryMessagesForm(
                    prefix=f"c{category.id}",
                    data={
                        "acknowledgment_message": category.acknowledgment_message or "",
                        "closing_message": category.closing_message or "",
                    },
                )
        if status_rows is None and preview.status_key:
            status_rows = sorted(
                (settings.get(preview.status_key) or {}).items(),
                key=lambda item: (len(item[0]), item[0]),
            )
        return self.render(
            "admin/crosswalk/messages.html",
            integration=integration,
            form=form,
            errors=errors or {},
            category_forms=forms,
            category_errors=category_errors or {},
            preview=preview,
            status_rows=status_rows or [],
            status_uses={status.code: status.use for status in preview.status_messages},
            console_keys=admin_queries.integration_console_keys(integration.id),
        ), status

    @expose("/<int:integration_id>/", methods=("GET", "POST"))
    def integration(self, integration_id: int) -> Any:
        if request.method == "GET":
            return self._page(integration_id)
        form = IntegrationMessagesForm()
        form.validate()
        codes = [c.strip() for c in request.form.getlist("status_code")]
        texts = request.form.getlist("status_message")
        rows = [(code, text) for code, text in zip(codes, texts, strict=False) if code or text]
        errors: dict[str, list[str]] = dict(form.errors)
        by_status: dict[str, str] = {}
        for code, text in rows:
            if not code:
                errors.setdefault("status_code", []).append(
                    f"a message without a status code: {text!r}"
                )
            elif code in by_status:
                errors.setdefault("status_code", []).append(f"status code {code} is listed twice")
            else:
                by_status[code] = text
        if not errors:
            has_codes = engine.preview_messages(integration_id).status_key is not None
            result = engine.save_integration_messages(
                actor(),
                integration_id,
                {
                    "acknowledgment_message": form.acknowledgment_message.data,
                    "closing_message": form.closing_message.data,
                },
                by_status if has_codes else None,
            )
            if result.ok:
                flash(_saved("Integration messages", result.changed), "success")
                return redirect(url_for(".integration", integration_id=integration_id))
            errors = result.errors
        return self._page(integration_id, form, errors=errors, status_rows=rows, status=400)

    @expose("/<int:integration_id>/category/<int:category_id>", methods=("POST",))
    def category_messages(self, integration_id: int, category_id: int) -> Any:
        form = CategoryMessagesForm(prefix=f"c{category_id}")
        form.validate()
        errors: dict[str, list[str]] = dict(form.errors)
        if not errors:
            result = engine.save_category(
                actor(),
                category_id,
                {
                    "acknowledgment_message": form.acknowledgment_message.data,
                    "closing_message": form.closing_message.data,
                },
            )
            if result.ok:
                category = admin_queries.category(category_id).category
                flash(_saved(f"Messages of {category.remote_id}", result.changed), "success")
                return redirect(
                    url_for(".integration", integration_id=integration_id)
                    + f"#category-{category_id}"
                )
            errors = result.errors
        return self._page(
            integration_id,
            category_errors={category_id: errors},
            category_forms={category_id: form},
            status=400,
        )


def _saved(what: str, changed: dict) -> str:
    if not changed:
        return f"{what}: nothing changed."
    return f"{what} saved ({', '.join(sorted(changed))}); the next message posted uses them."
