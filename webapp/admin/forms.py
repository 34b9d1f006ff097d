"""The console's forms.

They derive from Flask-WTF's ``FlaskForm``, not Flask-Admin's ``SecureForm``:
CSRFProtect checks every POST app-wide against Flask-WTF's token, and
SecureForm's token (wtforms' SessionCSRF, a token of its own) is refused by
it ("The CSRF session token is missing"). FlaskForm carries the one token
both check. Fields only parse: validation is the engine's, worded as
``config load`` words it.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from integrations.rule_settings import OPERATORS

from ..auth.users import MIN_PASSWORD_LENGTH, ROLES


class AdminForm(FlaskForm):
    """A console form: Flask-WTF's CSRF token, and ``_obj`` as Flask-Admin keeps it."""

    def __init__(self, *args: Any, obj: Any = None, **kwargs: Any) -> None:
        self._obj = obj
        super().__init__(*args, obj=obj, **kwargs)


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RuleForm(AdminForm):
    integration_id = SelectField("Integration", coerce=int, validate_choice=False)
    field = StringField(
        "Remote field", description="As the remote system names it, e.g. TasksField"
    )
    op = SelectField("Operator", choices=list(OPERATORS), validate_choice=False)
    value = StringField(
        "Value",
        description='Typed as in the YAML file: 1 is a number, true a boolean, "1" text.',
    )
    from_value = StringField("From", description='Only for "changes from": the previous value.')
    message = TextAreaField("Comment posted to the CRM issue")
    categories = CheckboxList(
        "Only for categories", description="None ticked: every category.", validate_choice=False
    )
    # "Test this rule": the CRM issue whose remote record the preview reads.
    issue_id = StringField("Test against CRM issue", validators=[Optional()])
    rule_id = HiddenField()


class IntegrationMessagesForm(AdminForm):
    acknowledgment_message = TextAreaField("Acknowledgment message")
    closing_message = TextAreaField("Closing message")


class CategoryMessagesForm(AdminForm):
    acknowledgment_message = TextAreaField("Acknowledgment message")
    closing_message = TextAreaField("Closing message")


class CategoryForm(AdminForm):
    crm_request_type_id = StringField(
        "CRM request type id", description="Blank: not mapped (issues of no type come here)."
    )
    internal = BooleanField("Internal (never offered in Open311)")
    private = BooleanField("Private (residents cannot see its requests)")
    protected = BooleanField("Protected (the category sync never renames or disables it)")


class UserAddForm(AdminForm):
    email = StringField("Email")
    role = SelectField("Role", choices=list(ROLES), validate_choice=False)
    password = PasswordField("Password", description=f"At least {MIN_PASSWORD_LENGTH} characters.")


class UserRoleForm(AdminForm):
    role = SelectField("Role", choices=list(ROLES), validate_choice=False)


class ButtonForm(AdminForm):
    """A POST with nothing but its token (enable, disable)."""
