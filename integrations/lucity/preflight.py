"""Read-only checks of a Lucity integration's configured names against the live
server (``crosswalk check``).

Every name the public record does not give (the internal API's alias, the
FILTER table and columns, the comment and document child paths, the
"Publicly Available" property, the external-id property) is read once: one
``TAKE=1`` GET each, never a write. A failing check names the setting to
change and carries the vendor's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..base import Check
from ..errors import IntegrationError, PermanentError, TransientError

if TYPE_CHECKING:  # the connector imports this module
    from .connector import LucityConnector

# HTTP statuses that mean the credentials, not the name tried, are wrong.
AUTH_STATUSES = (401, 403)


@dataclass(frozen=True)
class Probe:
    """The outcome of one read: a row (or none) on success, else the error."""

    row: dict[str, Any] | None = None
    error: IntegrationError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def vendor_words(error: IntegrationError) -> str:
    """What the vendor said (its error text), else our description of the failure."""
    return error.vendor_text or str(error)


class Preflight:
    """The checks of one Lucity connector; ``record_type`` picks the module
    (``request``: Work Requests, ``work_order``: Work Orders)."""

    def __init__(self, connector: LucityConnector) -> None:
        self.connector = connector
        self.client = connector.client
        self.settings = connector.settings
        self.record_type = connector.record_type
        self.system = f"{self.settings.name} ({connector.label})"

    # -- helpers ---------------------------------------------------------------
    def setting(self, key: str) -> str:
        return f"integrations[{self.settings.name}].{key}"

    def check(self, name: str, ok: bool, detail: str, key: str | None = None) -> Check:
        return Check(
            self.system, name, ok, detail, None if ok or key is None else self.setting(key)
        )

    def failed(self, name: str, error: IntegrationError, key: str, endpoint_key: str) -> Check:
        """A failed read: the credentials when the server refused them, the
        endpoint when it could not be reached, else ``key`` (the name tried)."""
        if error.status in AUTH_STATUSES:
            key = "username_env / password_env"
        elif isinstance(error, TransientError) and error.status is None:
            key = endpoint_key  # no HTTP answer at all: the URL, not the name
        return self.check(name, False, vendor_words(error), key)

    def probe(self, read: Callable[[], dict[str, Any] | None]) -> Probe:
        try:
            return Probe(row=read())
        except (PermanentError, TransientError) as error:
            return Probe(error=error)

    def first_row(self, path: str, filter_expr: str | None = None) -> Probe:
        return self.probe(lambda: self.client.first_row(path, filter_expr))

    def column_setting(self, suffix: str) -> str:
        return f"columns.{self.record_type}_{suffix}"

    # -- the checks ---------------------------------------------------------------
    def run(self) -> list[Check]:
        """Sign-in, the module's table and columns, the external-id property and
        the comment (and document) child paths, in that order; once the sign-in
        fails, the reads that need it are not tried."""
        module_key = f"paths.{self.record_type}s"
        module_path = self.client.path(f"{self.record_type}s")
        signed_in = self.first_row(module_path)
        name = f"internal API sign-in and {module_path} (TAKE=1)"
        if not signed_in.ok:
            assert signed_in.error is not None
            return [self.failed(name, signed_in.error, module_key, "internal_endpoints")]
        user = self.connector.credentials().username or "(no user)"
        checks = [self.check(name, True, f"signed in as {user}")]
        checks += self.table_and_columns(module_path)
        checks.append(self.external_id_property(module_path))
        auto = signed_in.row.get("AutoNumber") if signed_in.row else None
        checks.append(self.child("comments", auto))
        if self.connector.imports_documents and self.settings.import_images:
            checks.append(self.child("documents", auto))
        return checks

    def columns(self) -> dict[str, str]:
        """Every configured FILTER column of the module, by its settings key."""
        columns = self.settings.columns
        prefix = f"{self.record_type}_"
        return {
            f"columns.{key}": value
            for key, value in columns.model_dump().items()
            if key.startswith(prefix) and key != f"{prefix}table"
        }

    def table_and_columns(self, path: str) -> list[Check]:
        """One ``TAKE=1`` read per column (``{table} WHERE {column} IS NULL``).

        When none of them works, the table may be the wrong name rather than
        every column: a read naming only the id column tells which."""
        table = getattr(self.settings.columns, f"{self.record_type}_table")
        columns = self.columns()
        results = self.column_probes(path, f"{table} WHERE ")
        table_name = f"FILTER table {table}"
        if any(probe.ok for probe in results.values()):
            checks = [self.check(table_name, True, "read with a FILTER naming it")]
        else:
            error = next(iter(results.values())).error
            assert error is not None
            table_key = self.column_setting("table")
            checks = [self.failed(table_name, error, table_key, "internal_endpoints")]
            id_column = columns[self.column_setting("id")]
            if self.first_row(path, f"{id_column} IS NOT NULL").ok:
                # The columns answer without the table: only the table is wrong,
                # so each column gets its own verdict from a read without it.
                results = self.column_probes(path, "")
        for key, column in columns.items():
            probe = results[key]
            name = f"FILTER column {column}"
            if probe.ok:
                checks.append(self.check(name, True, "read with a FILTER naming it"))
            else:
                assert probe.error is not None
                checks.append(self.failed(name, probe.error, key, "internal_endpoints"))
        return checks

    def column_probes(self, path: str, prefix: str) -> dict[str, Probe]:
        """A ``TAKE=1`` read per column, ``{prefix}{column} IS NULL``, by settings key."""
        return {
            key: self.first_row(path, f"{prefix}{column} IS NULL")
            for key, column in self.columns().items()
        }

    def external_id_property(self, path: str) -> Check:
        """A record carrying an external id must show it in ``external_id_property``."""
        prop = self.settings.external_id_property
        column = self.columns()[self.column_setting("external_id")]
        table = getattr(self.settings.columns, f"{self.record_type}_table")
        name = f"external-id property {prop}"
        probe = self.first_row(path, f"{table} WHERE {column} IS NOT NULL")
        if not probe.ok:
            return self.check(name, True, f"not checked: the FILTER on {column} failed (above)")
        if probe.row is None:
            return self.check(name, True, f"not checked: no record has {column} set yet")
        if prop not in probe.row:
            found = ", ".join(sorted(k for k in probe.row if k.startswith("User"))) or "none"
            detail = (
                f"record {probe.row.get('AutoNumber')} has {column} set but no property "
                f"{prop} (User properties: {found})"
            )
            return self.check(name, False, detail, "external_id_property")
        return self.check(name, True, f"record {probe.row.get('AutoNumber')} carries it")

    def child(self, which: str, auto: Any) -> Check:
        """One ``TAKE=1`` read of a record's comments (or documents) path, and the
        "Publicly Available" property on the row it returns, if any."""
        key = f"paths.{self.record_type}_{which}"
        if auto in (None, ""):
            return self.check(
                key, True, f"not checked: no {self.record_type} to read the {which} of"
            )
        path = self.client.path(f"{self.record_type}_{which}", auto)
        probe = self.first_row(path)
        name = f"{which} of record {auto}: {path}"
        if not probe.ok:
            assert probe.error is not None
            return self.failed(name, probe.error, key, "internal_endpoints")
        public = self.settings.public_property
        if probe.row is not None and public not in probe.row:
            detail = f"a row has no property {public} (it has: {', '.join(sorted(probe.row))})"
            return self.check(name, False, detail, "public_property")
        return self.check(name, True, "read" if probe.row else "read (no rows yet)")

    def problem_code_lookup(self) -> Check:
        """The citizen API's problem-code lookup: a list of ``CodeValue`` rows."""
        path = self.client.path("problem_code_lookup")
        name = f"problem-code lookup {path}"
        try:
            rows = self.client.lookup(path)
        except (PermanentError, TransientError) as error:
            return self.failed(name, error, "paths.problem_code_lookup", "endpoints")
        if any("CodeValue" not in row for row in rows):
            return self.check(
                name,
                False,
                "rows without CodeValue: not the documented lookup",
                "paths.problem_code_lookup",
            )
        return self.check(name, True, f"{len(rows)} problem codes offered")
