"""Rules: list, create, edit, disable; and "Test this rule" (the preview).

The preview answers the form as the admin types it (``static/js/admin.js``
posts the form to ``/admin/rules/preview`` and shows the HTML fragment it
returns); without JavaScript the form's Preview button posts to the same URL
and gets the whole page back with the preview filled in.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose

from ..sync import admin_queries, engine
from ..sync.rule_preview import RulePreview
from .access import AdminView, actor
from .forms import ButtonForm, RuleForm


def _issue_id(text: str | None) -> int | None:
    text = (text or "").strip().lstrip("#")
    return int(text) if text.isdigit() else None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


class RulesView(AdminView):
    def _form(self, integration_id: int, rule=None) -> RuleForm:
        form = RuleForm()
        form.categories.choices = [c.remote_id for c in admin_queries.categories_of(integration_id)]
        if request.method != "POST":
            form.integration_id.data = integration_id
            if rule is not None:
                form.rule_id.data = str(rule.id)
                form.field.data = rule.field
                form.op.data = rule.op
                form.value.data = admin_queries.operand_text(rule.value)
                form.from_value.data = admin_queries.operand_text(rule.from_value)
                form.message.data = rule.message
                form.categories.data = list(rule.categories or [])
            form.issue_id.data = request.args.get("issue_id", "")
        return form

    @staticmethod
    def _input(form: RuleForm, integration_id: int) -> engine.RuleInput:
        return engine.RuleInput(
            integration_id=integration_id,
            field=(form.field.data or "").strip(),
            op=form.op.data or "",
            value=form.value.data or "",
            from_=form.from_value.data or "",
            message=form.message.data or "",
            categories=list(form.categories.data or []),
        )

    def _page(
        self,
        form: RuleForm,
        integration,
        rule=None,
        *,
        errors: dict[str, list[str]] | None = None,
        suggestions: list[str] | None = None,
        notes: list[str] | None = None,
        preview: RulePreview | None = None,
        status: int = 200,
    ) -> Any:
        return self.render(
            "admin/crosswalk/rule_edit.html",
            form=form,
            integration=integration,
            rule=rule,
            errors=errors or {},
            suggestions=suggestions or [],
            notes=notes or [],
            preview=preview,
            links=engine.rule_test_links(integration.id),
            seen_fields=admin_queries.seen_fields(integration.id),
            save_url=url_for(".edit", rule_id=rule.id)
            if rule
            else url_for(".create", integration=integration.id),
            preview_url=url_for(".preview"),
        ), status

    # ------------------------------------------------------------------ list
    @expose("/")
    def index(self) -> Any:
        return self.render(
            "admin/crosswalk/rules.html",
            groups=admin_queries.rules_by_integration(),
            button=ButtonForm(),
        )

    # ---------------------------------------------------------- create, edit
    @expose("/new", methods=("GET", "POST"))
    def create(self) -> Any:
        integration_id = _int(request.args.get("integration"))
        integrations = admin_queries.integrations()
        if integration_id is None and len(integrations) == 1:
            integration_id = integrations[0].id
        if integration_id is None:
            return redirect(url_for(".index"))
        integration = admin_queries.integration(integration_id)
        form = self._form(integration.id)
        if request.method == "POST":
            return self._save(form, integration, None)
        return self._page(form, integration)

    @expose("/<int:rule_id>/", methods=("GET", "POST"))
    def edit(self, rule_id: int) -> Any:
        rule = admin_queries.rule(rule_id)
        integration = admin_queries.integration(rule.integration_id)
        form = self._form(integration.id, rule)
        if request.method == "POST":
            return self._save(form, integration, rule)
        return self._page(form, integration, rule)

    def _save(self, form: RuleForm, integration, rule) -> Any:
        form.validate()  # the token; the rule itself is judged by the engine
        if form.errors.get("csrf_token"):
            return self._page(form, integration, rule, errors=form.errors, status=400)
        result = engine.save_rule(
            actor(), rule.id if rule else None, self._input(form, integration.id)
        )
        if not result.ok:
            return self._page(
                form,
                integration,
                rule,
                errors=result.errors,
                suggestions=result.suggestions,
                notes=result.notes,
                status=400,
            )
        saved = admin_queries.rule(result.row_id)
        label = f"{integration.name}#{saved.position + 1}"
        if result.changed:
            flash(f"Rule {label} saved; the next poll applies it.", "success")
        else:
            flash(f"Rule {label}: nothing changed.", "info")
        for note in result.notes:
            flash(note, "warning")
        return redirect(url_for(".edit", rule_id=saved.id))

    # -------------------------------------------------------- enable, disable
    @expose("/<int:rule_id>/enabled", methods=("POST",))
    def set_enabled(self, rule_id: int) -> Any:
        ButtonForm().validate()
        enabled = request.form.get("enabled") == "1"
        rule = engine.set_rule_enabled(actor(), rule_id, enabled)
        integration = admin_queries.integration(rule.integration_id)
        state = "enabled" if enabled else "disabled"
        flash(f"Rule {integration.name}#{rule.position + 1} {state}.", "success")
        return redirect(url_for(".index"))

    # ------------------------------------------------------------- preview
    @expose("/preview", methods=("POST",))
    def preview(self) -> Any:
        rule_id = _int(request.form.get("rule_id"))
        rule = admin_queries.rule(rule_id) if rule_id else None
        integration_id = rule.integration_id if rule else _int(request.form.get("integration_id"))
        if integration_id is None:
            return self.render("admin/crosswalk/_rule_preview.html", preview=None), 400
        integration = admin_queries.integration(integration_id)
        form = self._form(integration.id, rule)
        result = engine.preview_rule(
            self._input(form, integration.id), _issue_id(form.issue_id.data), rule_id
        )
        if request.headers.get("X-Requested-With") == "fetch":
            return self.render("admin/crosswalk/_rule_preview.html", preview=result)
        # Without JavaScript: the whole page, the form as it was sent.
        return self._page(form, integration, rule, preview=result)
