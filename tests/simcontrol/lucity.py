"""The CentralSquare EAM (Lucity) simulator: staff edits through ``/_sim/``,
reads through the internal REST API (HTTP Basic, ``format=json``).

One simulator serves both Lucity kinds; a control works on one record
type: work requests or work orders."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests

from simulators.launch import RunningSimulators
from simulators.lucity_store import CITIZEN_CATEGORY, EXTERNAL_ID_FIELD

from .base import TIMEOUT, WorkSystemControl, checked

# The simulator's default (admin) TAKE maximum: more is clamped to it.
TAKE_MAX = 50


class LucityControl(WorkSystemControl):
    """What both record types share; subclasses name their paths."""

    external_id_field: ClassVar[str] = EXTERNAL_ID_FIELD
    crew_closed_status: ClassVar[int] = 999
    # ``/_sim/{control_path}`` and ``{internal}/{api_path}``.
    control_path: ClassVar[str]
    api_path: ClassVar[str]

    def __init__(
        self, url: str, citizen_url: str, internal_url: str, username: str, password: str
    ) -> None:
        super().__init__(url)
        self.citizen_url = citizen_url.rstrip("/")
        self.internal_url = internal_url.rstrip("/")
        self.auth = (username, password)

    @classmethod
    def for_simulators(cls, sims: RunningSimulators) -> LucityControl:
        state, server = sims.lucity_state, sims.lucity
        if state is None or server is None:
            raise RuntimeError("the Lucity simulator was not started (lucity=False)")
        return cls(
            server.url,
            sims.lucity_base_url,
            sims.lucity_internal_url,
            state.username,
            state.password,
        )

    def internal(self, path: str, **params: Any) -> Any:
        """A GET on the internal REST API (``format=json``)."""
        response = requests.get(
            f"{self.internal_url}/{path}",
            params={"format": "json", **params},
            auth=self.auth,
            timeout=TIMEOUT,
        )
        return checked(response)

    def internal_list(self, path: str) -> list[dict]:
        """Every row of a list, oldest first (the server's default is newest
        first), TAKE at a time (the server clamps TAKE)."""
        rows: list[dict] = []
        while True:
            page = self.internal(path, ORDERBY="AutoNumber ASC", TAKE=TAKE_MAX, SKIP=len(rows))
            rows.extend(page)
            if len(page) < TAKE_MAX:
                return rows

    # -- a connector pointed at the simulator --------------------------------
    def connector_settings(self, *, batch_size: int | None = None, **overrides: Any) -> dict:
        settings: dict[str, Any] = {
            "name": f"contract-{self.kind}",
            "kind": self.kind,
            "environment": "test",
            "endpoints": {"test": self.citizen_url},
            "internal_endpoints": {"test": self.internal_url},
            "username_env": "LUCITY_USER",
            "password_env": "LUCITY_PASSWORD",
            "timeout": TIMEOUT,
        }
        if batch_size is not None:
            settings["take"] = batch_size  # one status query per page of TAKE ids
        return {**settings, **overrides}

    def environ(self) -> dict[str, str]:
        return {"LUCITY_USER": self.auth[0], "LUCITY_PASSWORD": self.auth[1]}

    # -- records -------------------------------------------------------------------
    def staff_create(self, **fields: Any) -> dict:
        """A record staff entered (``COORDSYS`` and ``minutes_ago`` are control keys)."""
        return self._sim("POST", self.control_path, json=fields)

    def remote_id_of(self, record: dict) -> str:
        return str(record["AutoNumber"])

    def patch(self, remote_id: str, **fields: Any) -> dict:
        return self._sim("POST", f"{self.control_path}/{remote_id}", json=fields)

    def set_status(self, remote_id: str, status: str | int) -> dict:
        return self.patch(remote_id, StatusCode=int(status))

    def status_of(self, record: dict) -> int | None:
        return record.get("StatusCode")

    def records(self) -> list[dict]:
        return self.internal_list(f"{self.api_path}/")

    def record(self, remote_id: str) -> dict:
        return self.internal(f"{self.api_path}/{remote_id}")

    def record_queries(self) -> list[dict]:
        path = f"{urlsplit(self.internal_url).path}/{self.api_path}"
        return [
            call
            for call in self.calls(method="GET", path_contains=path)
            if call["path"].rstrip("/") == path
            and any(key.upper() == "FILTER" for key in parse_qs(call["query_string"]))
        ]

    # -- comments and documents ---------------------------------------------------------
    def vendor_comment(
        self, remote_id: str, text: str, *, public: bool, author: str = "Crew 4"
    ) -> dict:
        body = {"Comment": text, "PubliclyAvailable": public, "RecordedBy": author}
        return self._sim("POST", f"{self.control_path}/{remote_id}/comments", json=body)

    def comments(self, remote_id: str) -> list[dict]:
        """The record's comments as the internal API lists them."""
        return self.internal_list(f"{self.api_path}/{remote_id}/Comments")

    def documents(self, remote_id: str) -> list[dict]:
        return self.internal_list(f"{self.api_path}/{remote_id}/Documents")

    def vendor_document(self, remote_id: str, url: str, *, public: bool, **fields: Any) -> dict:
        """A document link a vendor-side user adds to a record."""
        body = {"DocumentUrl": url, "PubliclyAvailable": public, **fields}
        return self._sim("POST", f"{self.control_path}/{remote_id}/documents", json=body)

    def written_notes(self, remote_id: str) -> list[str]:
        return [str(c.get("Comment") or "") for c in self.comments(remote_id)]


class LucityWorkRequestControl(LucityControl):
    kind: ClassVar[str] = "lucity-work-requests"
    sample_category: ClassVar[str] = "WB"  # Water Main Break, offered to residents
    control_path: ClassVar[str] = "requests"
    api_path: ClassVar[str] = "Work/Requests.svc"
    crm_closed_status: ClassVar[int] = 951  # Work Order Canceled, not the crew's 999

    def closing_message_settings(self, status: str | int, message: str) -> dict:
        return {"closing_messages": {str(status): message}}

    def crm_close_settings(self) -> dict:
        return {"crm_close_status_code": self.crm_closed_status}

    def add_category(self, name: str, *, active: bool = True) -> str:
        """A problem code in the citizen category (its code derived from the name)."""
        code = "".join(word[0] for word in name.split()).upper() + str(len(name))
        body = {
            "Code": code,
            "Description": name,
            "CategoryCode": CITIZEN_CATEGORY,
            "Inactive": not active,
        }
        self._sim("POST", "problem_codes", json=body)
        return code

    def offered_category_ids(self) -> set[str]:
        """The codes the citizen lookup offers (``311Only=true``): active ones of
        the citizen category. An inactive code is not offered at all: the
        documented lookup has no inactive flag."""
        codes = self.state()["problem_codes"]
        return {
            c["Code"] for c in codes if c["CategoryCode"] == CITIZEN_CATEGORY and not c["Inactive"]
        }

    def set_problem_code(self, code: str, **fields: Any) -> dict:
        """Staff rename, disable (``Inactive``) or recategorise a problem code."""
        return self._sim("POST", "problem_codes", json={"Code": code, **fields})

    def uploads(self, remote_id: str) -> list[dict]:
        """What the citizen media endpoint received for a request, oldest first:
        ``Field``, ``FileName``, ``ContentType``, ``Size`` and ``Content`` (base64)."""
        return self._sim("GET", f"{self.control_path}/{remote_id}/uploads")


class LucityWorkOrderControl(LucityControl):
    kind: ClassVar[str] = "lucity-work-orders"
    sample_category: ClassVar[str] = "FAC"  # Facility Repair
    control_path: ClassVar[str] = "work_orders"
    api_path: ClassVar[str] = "Work/WorkOrders.svc"

    def closing_message_settings(self, status: str | int, message: str) -> dict:
        return {"status_messages": {str(status): message}}
