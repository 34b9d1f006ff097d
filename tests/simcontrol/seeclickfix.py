"""The SeeClickFix simulator: what residents do in the CRM (its ``/_sim/``
control plane), and the organization API to read issues back."""

from __future__ import annotations

from typing import Any

import requests

from simulators.launch import RunningSimulators

from .base import TIMEOUT, SimulatorControl, checked

# A resident's report in the simulated city (New Haven), pothole by default.
DEFAULT_ISSUE = {
    "lat": 41.3083,
    "lng": -72.9279,
    "address": "165 Church St, New Haven",
    "request_type_id": 122,
    "summary": "Pothole",
    "description": "Deep pothole in the right lane",
    "reporter": {"name": "Ada Resident", "email": "ada@example.com"},
}


class SeeClickFixControl(SimulatorControl):
    def __init__(self, url: str, api_url: str, token: str, organization_id: int) -> None:
        super().__init__(url)
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.organization_id = organization_id

    @classmethod
    def for_simulators(cls, sims: RunningSimulators) -> SeeClickFixControl:
        state = sims.seeclickfix_state
        return cls(sims.seeclickfix.url, sims.scf_base_url, state.token, state.organization_id)

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def create_issue(self, **fields: Any) -> dict:
        """A resident reports an issue (``DEFAULT_ISSUE`` with ``fields`` over it)."""
        return self._sim("POST", "issues", json={**DEFAULT_ISSUE, **fields})

    def resident_comment(
        self,
        issue_id: int,
        text: str,
        *,
        name: str = "Ada Resident",
        image_url: str | None = None,
    ) -> dict:
        body = {"comment": text, "commenter": {"name": name}, "image_url": image_url}
        return self._sim("POST", f"issues/{issue_id}/comments", json=body)

    def resident_reopen(self, issue_id: int) -> dict:
        return self._sim("POST", f"issues/{issue_id}/reopen")

    def staff_close(self, issue_id: int, comment: str) -> dict:
        """Agency staff close the issue in the CRM (its organization API, as
        the back office does), not Crosswalk."""
        response = requests.post(
            f"{self.api_url}/issues/{issue_id}/close",
            json={"comment": comment},
            headers=self._auth,
            timeout=TIMEOUT,
        )
        return checked(response)

    def issue(self, issue_id: int) -> dict:
        """The issue with details (comments, questions), as the organization API
        shows it (the only API that shows private issues)."""
        response = requests.get(
            f"{self.api_url}/organizations/{self.organization_id}/issues/{issue_id}",
            params={"details": "true"},
            headers=self._auth,
            timeout=TIMEOUT,
        )
        return checked(response)

    def public_issue(self, issue_id: int) -> requests.Response:
        """``GET /issues/{id}`` (not organization-scoped), as it answered."""
        return requests.get(
            f"{self.api_url}/issues/{issue_id}",
            params={"details": "true"},
            headers=self._auth,
            timeout=TIMEOUT,
        )

    # -- the CRM's admins and moderators ---------------------------------------
    def moderate_next(self, count: int) -> dict:
        """The next ``count`` issues created through the API are held for moderation."""
        return self._sim("POST", "moderation", json={"count": count})

    def approve_held(self) -> list[int]:
        """A moderator lets every held issue through; returns their ids."""
        return self._sim("POST", "moderation", json={"approve": True})["approved"]

    def rename_official(self, name: str) -> dict:
        """An admin renames the token's user (Crosswalk's integration user)."""
        return self._sim("POST", "official", json={"name": name})

    def serve_extra_fields(self, *fields: str) -> dict:
        """Serve undocumented fields too ("comment_ids", "question_keys")."""
        return self._sim("POST", "extra_fields", json={"fields": list(fields)})

    def mark_request_type_private(self, request_type_id: int, private: bool = True) -> dict:
        """An admin marks a request category Private in the CRM."""
        path = f"request_types/{request_type_id}/private"
        return self._sim("POST", path, json={"private": private})

    def change_question(self, request_type_id: int, key: str, text: str | None) -> dict:
        """An admin renames a question of a request type (None: removes it)."""
        path = f"request_types/{request_type_id}/questions/{key}"
        return self._sim("POST", path, json={"question": text})
