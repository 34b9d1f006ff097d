"""The OpenGov EAM (Cartegraph) simulator: staff edits through ``/_sim/records``,
everything else through the documented ``/classes`` API with HTTP Basic."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests

from simulators.cartegraph_store import COMMENTS_CLASS, ISSUES_CLASS, REQUESTS_CLASS
from simulators.launch import RunningSimulators

from .base import TIMEOUT, WorkSystemControl, checked


class CartegraphControl(WorkSystemControl):
    kind: ClassVar[str] = "cartegraph"
    sample_category: ClassVar[str] = "Pothole"
    external_id_field: ClassVar[str] = "SeeClickFixIDField"
    crew_closed_status: ClassVar[str] = "Closed"
    crm_closed_status: ClassVar[str] = "Canceled"

    def __init__(self, url: str, api_url: str, username: str, password: str) -> None:
        super().__init__(url)
        self.api_url = api_url.rstrip("/")
        self.auth = (username, password)

    @classmethod
    def for_simulators(cls, sims: RunningSimulators) -> CartegraphControl:
        state = sims.cartegraph_state
        return cls(sims.cartegraph.url, sims.cartegraph_base_url, state.username, state.password)

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.api_url}/{path}", auth=self.auth, timeout=TIMEOUT, **kwargs
        )
        return checked(response)

    # -- a connector pointed at the simulator --------------------------------
    def connector_settings(self, *, batch_size: int | None = None, **overrides: Any) -> dict:
        settings: dict[str, Any] = {
            "name": "contract-cartegraph",
            "kind": self.kind,
            "environment": "test",
            "endpoints": {"test": self.api_url},
            "username_env": "CG_USER",
            "password_env": "CG_PASSWORD",
            "timeout": TIMEOUT,
        }
        if batch_size is not None:
            settings["batch_size"] = batch_size
        return {**settings, **overrides}

    def environ(self) -> dict[str, str]:
        return {"CG_USER": self.auth[0], "CG_PASSWORD": self.auth[1]}

    def crm_close_settings(self) -> dict:
        return {
            "closed_statuses": [self.crew_closed_status, self.crm_closed_status],
            "crm_close_status": self.crm_closed_status,
        }

    # -- records (any class) ----------------------------------------------------
    def records_of(self, class_name: str) -> list[dict]:
        """Every record of a class, through the API (its default page holds 1000)."""
        return self._api("GET", f"classes/{class_name}")[class_name]

    def create_in(self, class_name: str, **fields: Any) -> dict:
        """A record of any class entered by agency staff (auto-progress leaves it alone)."""
        return self._sim("POST", f"records/{class_name}", json=fields)

    def patch_in(self, class_name: str, oid: int | str, **fields: Any) -> dict:
        return self._sim("POST", f"records/{class_name}/{oid}", json=fields)

    def delete(self, class_name: str, oid: int | str) -> None:
        self._api("DELETE", f"classes/{class_name}/{oid}")

    # -- records (requests) -------------------------------------------------------
    def staff_create(self, **fields: Any) -> dict:
        return self.create_in(REQUESTS_CLASS, **fields)

    def remote_id_of(self, record: dict) -> str:
        return str(record["Oid"])

    def patch(self, remote_id: str, **fields: Any) -> dict:
        return self.patch_in(REQUESTS_CLASS, remote_id, **fields)

    def set_status(self, remote_id: str, status: str | int) -> dict:
        return self.patch(remote_id, StatusField=status)

    def status_of(self, record: dict) -> str | None:
        return record.get("StatusField")

    def records(self) -> list[dict]:
        return self.records_of(REQUESTS_CLASS)

    def record(self, remote_id: str) -> dict:
        return self._api("GET", f"classes/{REQUESTS_CLASS}/{remote_id}")[REQUESTS_CLASS][0]

    def record_queries(self) -> list[dict]:
        path = f"{urlsplit(self.api_url).path}/classes/{REQUESTS_CLASS}"
        return [
            call
            for call in self.calls(method="GET", path_contains=path)
            if call["path"] == path and "filter" in parse_qs(call["query_string"])
        ]

    # -- comments -------------------------------------------------------------------
    def vendor_comment(
        self, remote_id: str, text: str, *, public: bool, author: str = "Crew 4"
    ) -> dict:
        """A comment an OpenGov EAM user adds (a child record of the request)."""
        record = {"CommentField": text, "PublicField": public, "AuthorField": author}
        path = f"classes/{REQUESTS_CLASS}/{remote_id}/{COMMENTS_CLASS}"
        return self._api("POST", path, json={COMMENTS_CLASS: [record]})

    def written_notes(self, remote_id: str) -> list[str]:
        """Lines of the request's CommentsField, where notes from the CRM go."""
        text = self.record(remote_id).get("CommentsField") or ""
        return [line for line in text.splitlines() if line.strip()]

    # -- categories ("Request Issues") --------------------------------------------------
    def add_category(self, name: str, *, active: bool = True) -> str:
        self.create_in(ISSUES_CLASS, IssueField=name, InactiveField=not active)
        return name

    def offered_category_ids(self) -> set[str]:
        return {r["IssueField"] for r in self.records_of(ISSUES_CLASS) if r.get("IssueField")}
