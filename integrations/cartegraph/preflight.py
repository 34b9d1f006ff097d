"""``crosswalk check`` for OpenGov EAM (Cartegraph): every class, field and
filter column an agency configured, read once against its live server.

A wrong name otherwise surfaces as a 400 on the lookup that runs before every
create. Each probe is one ``GET`` with ``limit=1`` that names the configured
field (in ``fields=``, and in ``filter=`` where the sync filters on it), so a
failure carries Cartegraph's own words and the setting to change. Nothing is
ever written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..base import REQUESTER_KEYS, Check
from ..errors import IntegrationError, PermanentError, TransientError
from . import filter_syntax as fs
from .client import CartegraphClient, Sample
from .dates import ENTRY_DATE_FIELD, entry_time
from .settings import CartegraphSettings

# Request fields the connector writes or reads under their documented names
# (vendor-apis.md §2): not settings, so a failure names no setting.
DOCUMENTED_REQUEST_FIELDS = (
    "IDField",
    "StatusField",
    "IssueField",
    "RequesterField",
    "DescriptionField",
    "LocationDescriptionField",
    "lat",
    "long",
    "AttachmentField",
    "LinkedField",
)
CATEGORY_FIELDS = ("IssueField", "InternalRequestCategoryField", "InactiveField")
# A value no external id or email has: the filter is tried, nothing is found.
NOBODY = "crosswalk-preflight@example.invalid"
SKIPPED = "skipped: "


@dataclass(frozen=True)
class Target:
    """Where a probe reads: the path, and the class its envelope names."""

    path: str
    class_name: str


class CartegraphPreflight:
    """The checks of one Cartegraph integration, in the order a push needs them."""

    def __init__(self, settings: CartegraphSettings, client: CartegraphClient) -> None:
        self.settings = settings
        self.client = client
        # As every line of the integration is labelled (see webapp.sync.preflight).
        self.system = f"{settings.name} ({settings.label})"
        self.checks: list[Check] = []
        self.sample_oid: str | None = None  # a request to read children of

    def run(self) -> list[Check]:
        requests = Target(f"classes/{self.settings.request_class}", self.settings.request_class)
        try:
            first = self.client.sample(requests.path, requests.class_name)
        except IntegrationError as exc:
            if not self._signed_in_but_refused(requests, exc):
                return self.checks  # every other read would fail the same way
        else:
            self._signed_in()
            self.add(
                f"request class {requests.class_name}",
                True,
                f"readable ({_count(first)} requests)",
                self.setting("request_class"),
            )
            if first.records:
                self.sample_oid = str(first.records[0]["Oid"])
            self._request_fields(requests)
        self._requester()
        if self.settings.import_comments:
            self._comments()
        if self.settings.sync_categories:
            self._categories()
        return self.checks

    # -- helpers ---------------------------------------------------------------
    def setting(self, key: str) -> str:
        return f"integrations[{self.settings.name}].{key}"

    def add(self, name: str, ok: bool, detail: str, setting: str | None) -> None:
        self.checks.append(Check(self.system, name, ok, detail, setting))

    def probe(
        self,
        name: str,
        setting: str | None,
        target: Target,
        *,
        fields: Sequence[str] = (),
        filter_expr: str | None = None,
        sort: str | None = None,
        describe: Callable[[Sample], str] | None = None,
    ) -> Sample | None:
        """One ``limit=1`` read, recorded as a check; the sample when it worked."""
        try:
            sample = self.client.sample(
                target.path, target.class_name, fields=fields, filter_expr=filter_expr, sort=sort
            )
        except IntegrationError as exc:
            self.add(name, False, str(exc), setting)
            return None
        self.add(name, True, describe(sample) if describe else "accepted", setting)
        return sample

    def probe_fields(self, target: Target, fields: Sequence[tuple[str, str]]) -> None:
        """One probe per configured field (``(field, setting key)``), so that a
        failure names exactly the setting whose value the server lacks."""
        for field, key in fields:
            self.probe(
                f"field {field} of {target.class_name}", self.setting(key), target, fields=[field]
            )

    # -- sign in and the request class -------------------------------------------
    def _signed_in_but_refused(self, requests: Target, exc: IntegrationError) -> bool:
        """The first read failed: HTTP Basic goes with it, so a 401/403 (or no
        answer) is the sign-in's failure (False: stop here); anything else is
        the request class's, and the other classes can still be read (True)."""
        sign_in = "sign in (HTTP Basic)"
        if isinstance(exc, PermanentError) and exc.status in (401, 403):
            keys = f"{self.setting('username_env')} / {self.setting('password_env')}"
            self.add(sign_in, False, str(exc), keys)
            return False
        if isinstance(exc, TransientError):
            self.add(
                sign_in, False, str(exc), self.setting(f"endpoints.{self.settings.environment}")
            )
            return False
        self._signed_in()
        name = f"request class {requests.class_name}"
        self.add(name, False, str(exc), self.setting("request_class"))
        return True

    def _signed_in(self) -> None:
        self.add("sign in (HTTP Basic)", True, f"accepted at {self.settings.endpoint}", None)

    def _request_fields(self, requests: Target) -> None:
        s = self.settings
        external = s.external_id_field
        self.probe(
            f"external id field {external} (filter {fs.field_ref(external)})",
            self.setting("external_id_field"),
            requests,
            fields=[external],
            filter_expr=fs.equals(external, "0"),
        )
        self.probe(
            "documented request fields",
            None,
            requests,
            fields=DOCUMENTED_REQUEST_FIELDS,
            describe=lambda _: ", ".join(DOCUMENTED_REQUEST_FIELDS),
        )
        self.probe(
            f"closed statuses (filter {fs.field_ref('StatusField')} in …)",
            self.setting("closed_statuses"),
            requests,
            fields=["StatusField"],
            filter_expr=fs.is_in("StatusField", s.closed_statuses),
            describe=lambda sample: (
                f"{_count(sample)} requests are {' or '.join(s.closed_statuses)}"
            ),
        )
        self.probe_fields(requests, [(s.comments_field, "comments_field")])
        self.probe_fields(requests, self._custom_fields() + self._rule_fields())
        if s.import_requests:
            self._newest_entry(requests)

    def _custom_fields(self) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for category in self.settings.categories:
            for field in category.custom_fields:
                seen.setdefault(field, f"categories[{category.remote_id}].custom_fields.{field}")
        return list(seen.items())

    def _rule_fields(self) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for index, rule in enumerate(self.settings.rules):
            seen.setdefault(rule.field, f"rules[{index}].field")
        return list(seen.items())

    def _newest_entry(self, requests: Target) -> None:
        """The importer's read: newest first by the documented sort, with an
        entry date it can compare."""
        name = f"importer: newest request ({ENTRY_DATE_FIELD}:dsc)"
        setting = self.setting("import_requests")
        try:
            sample = self.client.sample(
                requests.path,
                requests.class_name,
                fields=[ENTRY_DATE_FIELD],
                sort=f"{ENTRY_DATE_FIELD}:dsc",
            )
            entered = (
                entry_time(sample.records[0].get(ENTRY_DATE_FIELD)) if sample.records else None
            )
        except IntegrationError as exc:
            self.add(name, False, str(exc), setting)
            return
        shown = f"entered {entered.isoformat()}" if entered else "no request with an entry date yet"
        self.add(name, True, shown, setting)

    # -- requesters ------------------------------------------------------------------
    def _requester(self) -> None:
        s = self.settings
        if s.requester.mode == "fixed":
            self.add(
                "requester (fixed)",
                True,
                f"{SKIPPED}every request names {s.requester.fixed_value!r} in RequesterField; "
                "whether the server accepts it shows only on a create",
                self.setting("requester.value"),
            )
            return
        if s.requester_class is None:
            self.add(
                "requester",
                True,
                f"{SKIPPED}requester_class is null: RequesterField carries the email",
                self.setting("requester_class"),
            )
            return
        target = Target(f"classes/{s.requester_class}", s.requester_class)
        found = self.probe(
            f"requester class {s.requester_class}",
            self.setting("requester_class"),
            target,
            describe=lambda sample: f"readable ({_count(sample)} requesters)",
        )
        if found is None:
            return
        fields = ["EmailField", *REQUESTER_KEYS]
        self.probe(
            f"requester fields (filter {fs.field_ref('EmailField')})",
            self.setting("requester"),  # fixed names: the way out is mode: fixed
            target,
            fields=fields,
            filter_expr=fs.equals("EmailField", NOBODY),
            describe=lambda _: ", ".join(fields),
        )

    # -- comments ----------------------------------------------------------------------
    def _comments(self) -> None:
        s = self.settings
        child = s.comment_child_class
        fields = [
            (s.comment_text_field, "comment_text_field"),
            (s.comment_public_field, "comment_public_field"),
        ]
        fields += [
            (f, k)
            for f, k in (
                (s.comment_author_field, "comment_author_field"),
                (s.comment_date_field, "comment_date_field"),
            )
            if f
        ]
        if s.comment_query == "batch":
            self._batch_comments(child, fields)
            return
        if self.sample_oid is None:
            self.add(
                f"comment class {child}",
                True,
                f"{SKIPPED}no request yet to read the comments of; run the check again "
                "once one exists",
                self.setting("comment_class"),
            )
            return
        target = Target(f"classes/{s.request_class}/{self.sample_oid}/{child}", child)
        if self.probe(
            f"comment class {child} (child of request {self.sample_oid})",
            self.setting("comment_class"),
            target,
            describe=lambda sample: f"readable ({_count(sample)} comments on that request)",
        ):
            self.probe_fields(target, fields)

    def _batch_comments(self, child: str, fields: list[tuple[str, str]]) -> None:
        s = self.settings
        target = Target(f"classes/{child}", child)
        if not self.probe(
            f"comment class {child} (queried on its own: comment_query batch)",
            f"{self.setting('comment_class')} / {self.setting('comment_query')}",
            target,
            describe=lambda sample: f"readable ({_count(sample)} comments)",
        ):
            return
        parent = s.comment_parent_field
        self.probe(
            f"comment parent field {parent} (filter {fs.field_ref(parent)})",
            self.setting("comment_parent_field"),
            target,
            fields=[parent],
            filter_expr=fs.is_in(parent, [int(self.sample_oid or 0)]),
        )
        self.probe_fields(target, fields)

    # -- categories ------------------------------------------------------------------------
    def _categories(self) -> None:
        s = self.settings
        target = Target(f"classes/{s.category_class}", s.category_class)
        if not self.probe(
            f"category class {s.category_class}",
            self.setting("category_class"),
            target,
            describe=lambda sample: f"readable ({_count(sample)} request issues)",
        ):
            return
        self.probe(
            "category fields",
            None,
            target,
            fields=CATEGORY_FIELDS,
            describe=lambda _: ", ".join(CATEGORY_FIELDS),
        )
        if s.service_area_field:
            self.probe_fields(target, [(s.service_area_field, "service_area_field")])
        self._mapped_categories()

    def _mapped_categories(self) -> None:
        """Each mapped category's remote id is a Request Issue the server has:
        it is the IssueField value of every request in that category."""
        wanted = [c.remote_id for c in self.settings.categories if c.crm_request_type_id]
        if not wanted:
            return
        name = f"mapped categories ({len(wanted)}) among the request issues"
        try:
            rows = self.client.query(self.settings.category_class, fs.is_in("IssueField", wanted))
        except IntegrationError as exc:
            self.add(name, False, str(exc), None)
            return
        present = {str(r.get("IssueField")) for r in rows}
        missing = [remote_id for remote_id in wanted if remote_id not in present]
        if missing:
            shown = ", ".join(repr(m) for m in missing)
            setting = self.setting(f"categories[{missing[0]}].remote_id")
            self.add(name, False, f"no request issue is named {shown}", setting)
        else:
            self.add(name, True, ", ".join(wanted), None)


def _count(sample: Sample) -> str:
    return str(sample.total) if sample.total is not None else "some"
