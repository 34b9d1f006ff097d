"""SeeClickFix API v2, organization-scoped (the CRM side of every sync)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests

from ..errors import TransientError
from ..http import VendorHTTP
from .issues import CrmIssue, parse_issue

SYSTEM = "SeeClickFix"
ALL_STATUSES = "open,acknowledged,closed,archived"


class SeeClickFixClient:
    def __init__(
        self,
        base_url: str,
        organization_id: int,
        token: str,
        *,
        session: requests.Session | None = None,
        per_page: int = 20,
        timeout: float = 30.0,
    ) -> None:
        self.organization_id = organization_id
        # details=true caps per_page at 20 (vendor-apis.md §1).
        self.per_page = min(per_page, 20)
        self.http = VendorHTTP(
            SYSTEM,
            base_url,
            headers={"Authorization": f"Bearer {token}"},
            session=session,
            timeout=timeout,
        )

    def iter_updated_issues(self, updated_after: datetime | None) -> Iterator[CrmIssue | Exception]:
        """Every issue updated after ``updated_after``, oldest first, every page.

        Yields the parse error instead of raising it, so one malformed issue
        never stops the cycle for the others.
        """
        params: dict[str, Any] = {
            "status": ALL_STATUSES,
            "sort": "updated_at",
            "sort_direction": "ASC",
            "details": "true",
            "per_page": self.per_page,
        }
        if updated_after is not None:
            params["updated_at_after"] = updated_after.isoformat()
        page = 1
        while True:
            body = self.http.get(
                f"organizations/{self.organization_id}/issues", params={**params, "page": page}
            )
            if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
                raise TransientError("issues list reply has no 'issues' list", system=SYSTEM)
            for raw in body["issues"]:
                try:
                    yield parse_issue(raw)
                except ValueError as exc:
                    yield exc
            pagination = (body.get("metadata") or {}).get("pagination") or {}
            next_page = pagination.get("next_page")
            if not next_page or not body["issues"]:
                return
            page = int(next_page)

    def get_issue(self, issue_id: int) -> CrmIssue:
        return parse_issue(self.http.get(f"issues/{issue_id}", params={"details": "true"}))

    def get_request_type(self, request_type_id: int) -> dict[str, Any]:
        """A request type with its secondary questions (``questions[]``)."""
        body = self.http.get(f"request_types/{request_type_id}")
        if not isinstance(body, dict) or "id" not in body:
            raise TransientError(f"request type {request_type_id}: reply has no id", system=SYSTEM)
        questions = body.get("questions")
        body["questions"] = questions if isinstance(questions, list) else []
        return body

    def create_issue(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``POST /issues``; the reply is the new issue (or its id via Location)."""
        response = self.http.request("POST", "issues", json=fields, expect_json=False)
        body = self.http.decode_json(response, "POST", self.http.url("issues")) or {}
        if isinstance(body, dict) and body.get("id") is None:
            location = response.headers.get("Location", "")
            tail = location.rstrip("/").rsplit("/", 1)[-1]
            if tail.isdigit():
                body["id"] = int(tail)
        if not isinstance(body, dict) or body.get("id") is None:
            raise TransientError(
                "the created issue's id is in neither body nor Location", system=SYSTEM
            )
        return body

    def _transition(self, issue_id: int, action: str, comment: str) -> dict[str, Any]:
        return self.http.post(f"issues/{issue_id}/{action}", json={"comment": comment}) or {}

    def acknowledge(self, issue_id: int, comment: str) -> dict[str, Any]:
        return self._transition(issue_id, "acknowledge", comment)

    def close(self, issue_id: int, comment: str) -> dict[str, Any]:
        return self._transition(issue_id, "close", comment)

    def reopen(self, issue_id: int, comment: str) -> dict[str, Any]:
        return self._transition(issue_id, "open", comment)

    def add_comment(self, issue_id: int, comment: str) -> dict[str, Any]:
        return self.http.post(f"issues/{issue_id}/comments", json={"comment": comment}) or {}
