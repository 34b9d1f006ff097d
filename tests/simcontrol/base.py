"""The one shape of a simulator control: a client of a simulator's ``/_sim/``
control plane (``simulators/server.py`` documents it), over real HTTP like
everything else the tests drive.

``SimulatorControl`` is what every simulator offers (reset, faults, latency,
the request log, the state dump). ``WorkSystemControl`` adds what the
connector contract suite needs of a work-management system's simulator:
records staff create and change, comments staff add, categories, and the
settings of a connector pointed at it. One subclass per integration kind;
``tests/simcontrol/__init__.py`` registers them by kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import requests

from simulators.launch import RunningSimulators

TIMEOUT = 5


def checked(response: requests.Response) -> Any:
    """The JSON of a successful reply (an error fails the test with the vendor's text)."""
    if response.status_code >= 400:
        raise AssertionError(
            f"{response.request.method} {response.url}: HTTP {response.status_code}: "
            f"{response.text[:300]}"
        )
    return response.json() if response.content else None


class SimulatorControl:
    """The control plane every simulator shares (``/_sim/reset``, ``faults``,
    ``latency``, ``requests``, ``state``)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _sim(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.url}/_sim/{path.lstrip('/')}", timeout=TIMEOUT, **kwargs
        )
        return checked(response)

    def reset(self) -> None:
        """Back to the initial data; a reset also drops faults, latency and the log."""
        self._sim("POST", "reset")

    def fault(self, **fault: Any) -> None:
        """Inject a fault (keys of ``simulators.server.Fault``: status, count,
        path_contains, method, retry_after, body, content_type, delay_ms, drop_after)."""
        self._sim("POST", "faults", json=fault)

    def clear_faults(self) -> None:
        self._sim("DELETE", "faults")

    def latency(self, ms: float) -> None:
        self._sim("POST", "latency", json={"ms": ms})

    def calls(self, *, method: str | None = None, path_contains: str | None = None) -> list[dict]:
        """The vendor requests the simulator received, oldest first."""
        params = {"method": method, "path_contains": path_contains}
        return self._sim("GET", "requests", params={k: v for k, v in params.items() if v})

    def clear_calls(self) -> None:
        self._sim("DELETE", "requests")

    def state(self) -> dict[str, Any]:
        """The simulator's whole store, as ``/_sim/state`` dumps it."""
        return self._sim("GET", "state")


class WorkSystemControl(SimulatorControl, ABC):
    """A work-management system's simulator, as one integration kind sees it.

    The class attributes are the facts the contract suite needs about the
    simulator: a category it accepts on create, how a crew closes a record,
    and where the hub's external id lives."""

    kind: ClassVar[str]
    # A category remote id the simulator accepts on a create.
    sample_category: ClassVar[str]
    # The record field holding the CRM issue id (the connector's default).
    external_id_field: ClassVar[str]
    # A status a crew sets that the connector's default settings read as closed.
    crew_closed_status: ClassVar[str | int]
    # The closed status ``crm_close_settings`` makes ``close_request`` set: not
    # the crew's, so a test can tell them apart. None: the kind cannot close.
    crm_closed_status: ClassVar[str | int | None] = None

    @classmethod
    @abstractmethod
    def for_simulators(cls, sims: RunningSimulators) -> WorkSystemControl:
        """The control of this kind's simulator among the running ones."""

    # -- a connector pointed at the simulator --------------------------------
    @abstractmethod
    def connector_settings(self, *, batch_size: int | None = None, **overrides: Any) -> dict:
        """Settings (before validation) of an integration of this kind on the
        simulator; ``batch_size``: ids per status query, on whichever key sets it."""

    @abstractmethod
    def environ(self) -> dict[str, str]:
        """The environment variables the settings name (the simulator's credentials)."""

    def closing_message_settings(self, status: str | int, message: str) -> dict | None:
        """Overrides choosing ``message`` for records closed at ``status``; None
        when the kind has no closing message per remote status."""
        return None

    def crm_close_settings(self) -> dict:
        """Overrides making ``close_request`` set ``crm_closed_status``."""
        raise NotImplementedError(f"the {self.kind} simulator control cannot close requests")

    # -- records -------------------------------------------------------------
    @abstractmethod
    def staff_create(self, **fields: Any) -> dict:
        """A record entered by agency staff in the vendor's own screens."""

    @abstractmethod
    def remote_id_of(self, record: dict) -> str:
        """The id the connector reports for a record (``RemoteRecord.remote_id``)."""

    @abstractmethod
    def patch(self, remote_id: str, **fields: Any) -> dict:
        """Change a record's fields as staff would."""

    @abstractmethod
    def set_status(self, remote_id: str, status: str | int) -> dict:
        """Move a record to a status as a crew would."""

    @abstractmethod
    def status_of(self, record: dict) -> str | int | None:
        """A record's status as the vendor stores it."""

    @abstractmethod
    def records(self) -> list[dict]:
        """Every record of the kind's record class, oldest first."""

    @abstractmethod
    def record(self, remote_id: str) -> dict:
        """One record, as the vendor's API shows it."""

    def records_with_external_id(self, crm_issue_id: int) -> list[dict]:
        """The records carrying this CRM issue id (more than one is a duplicate)."""
        wanted = str(crm_issue_id)
        return [r for r in self.records() if str(r.get(self.external_id_field)) == wanted]

    @abstractmethod
    def record_queries(self) -> list[dict]:
        """Logged filtered list queries over the record class (status polls)."""

    # -- comments -------------------------------------------------------------
    @abstractmethod
    def vendor_comment(
        self, remote_id: str, text: str, *, public: bool, author: str = "Crew 4"
    ) -> dict:
        """A comment a vendor-side user adds to a record."""

    @abstractmethod
    def written_notes(self, remote_id: str) -> list[str]:
        """The comments on a record as stored, oldest first (the hub's and others')."""

    # -- categories -------------------------------------------------------------
    def add_category(self, name: str, *, active: bool = True) -> str:
        """Staff add a category; returns its remote id (the value sent on requests)."""
        raise NotImplementedError(f"the {self.kind} simulator control has no categories")

    def offered_category_ids(self) -> set[str]:
        """Remote ids of every category the kind's integration offers, from the store."""
        raise NotImplementedError(f"the {self.kind} simulator control has no categories")
