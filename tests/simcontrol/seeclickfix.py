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
    def __init__(self, url: str, api_url: str, token: str) -> None:
        super().__init__(url)
        self.api_url = api_url.rstrip("/")
        self.token = token

    @classmethod
    def for_simulators(cls, sims: RunningSimulators) -> SeeClickFixControl:
        return cls(sims.seeclickfix.url, sims.scf_base_url, sims.seeclickfix_state.token)

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
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=TIMEOUT,
        )
        return checked(response)

    def issue(self, issue_id: int) -> dict:
        """The issue with details (comments, questions), as the organization API shows it."""
        response = requests.get(
            f"{self.api_url}/issues/{issue_id}",
            params={"details": "true"},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=TIMEOUT,
        )
        return checked(response)
