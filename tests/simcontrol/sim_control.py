"""``SimControl``, the ``sim`` fixture: every running simulator's control, plus
the shorthands the end-to-end tests were written with (``sim.create_issue``,
``sim.cg_patch``, ``sim.fault("cg", ...)``, ``sim.calls("scf")``)."""

from __future__ import annotations

from typing import Any

from simulators.cartegraph_store import REQUESTS_CLASS
from simulators.launch import RunningSimulators

from .base import SimulatorControl
from .cartegraph import CartegraphControl
from .lucity import LucityWorkOrderControl, LucityWorkRequestControl
from .seeclickfix import SeeClickFixControl


class SimControl:
    """The simulators' ``/_sim/`` control planes, over HTTP like everything else."""

    def __init__(self, sims: RunningSimulators) -> None:
        self.sims = sims
        self.seeclickfix = SeeClickFixControl.for_simulators(sims)
        self.cartegraph = CartegraphControl.for_simulators(sims)
        self.geocoder = SimulatorControl(sims.arcgis.url)
        self.lucity_requests: LucityWorkRequestControl | None = None
        self.lucity_orders: LucityWorkOrderControl | None = None
        if sims.lucity is not None:
            self.lucity_requests = LucityWorkRequestControl.for_simulators(sims)
            self.lucity_orders = LucityWorkOrderControl.for_simulators(sims)
        # Server roots by the short names the tests use (one Lucity server, two kinds).
        self.systems: dict[str, SimulatorControl] = {
            "scf": self.seeclickfix,
            "cg": self.cartegraph,
            "arcgis": self.geocoder,
        }
        if self.lucity_requests is not None:
            self.systems["lucity"] = self.lucity_requests
        self.scf = self.seeclickfix.url
        self.cg = self.cartegraph.url
        self.arcgis = self.geocoder.url

    def reset(self) -> None:
        """Every simulator back to its initial data, without faults, latency or logs."""
        for control in self.systems.values():
            control.reset()

    def fault(self, system: str, **fault: Any) -> None:
        self.systems[system].fault(**fault)

    def calls(self, system: str) -> list[dict]:
        return self.systems[system].calls()

    # -- SeeClickFix ------------------------------------------------------------
    def create_issue(self, **fields: Any) -> dict:
        return self.seeclickfix.create_issue(**fields)

    def resident_comment(
        self,
        issue_id: int,
        text: str,
        *,
        name: str = "Ada Resident",
        image_url: str | None = None,
    ) -> dict:
        return self.seeclickfix.resident_comment(issue_id, text, name=name, image_url=image_url)

    def resident_reopen(self, issue_id: int) -> dict:
        return self.seeclickfix.resident_reopen(issue_id)

    def scf_issue(self, issue_id: int) -> dict:
        return self.seeclickfix.issue(issue_id)

    def staff_close(self, issue_id: int, comment: str = "Duplicate of another report.") -> dict:
        return self.seeclickfix.staff_close(issue_id, comment)

    # -- Cartegraph ---------------------------------------------------------------
    def cg_comment(
        self, oid: int | str, text: str, *, public: bool, author: str = "Crew 4"
    ) -> dict:
        """A comment a Cartegraph user adds to a request (OpenGov EAM)."""
        return self.cartegraph.vendor_comment(str(oid), text, public=public, author=author)

    def cg_records(self, class_name: str = REQUESTS_CLASS) -> list[dict]:
        return self.cartegraph.records_of(class_name)

    def cg_patch(self, oid: int | str, **fields: Any) -> None:
        self.cartegraph.patch(str(oid), **fields)

    def cg_staff_create(self, class_name: str, **fields: Any) -> dict:
        """A record entered by agency staff directly in Cartegraph."""
        return self.cartegraph.create_in(class_name, **fields)

    def cg_patch_class(self, class_name: str, oid: int | str, **fields: Any) -> None:
        self.cartegraph.patch_in(class_name, oid, **fields)

    def cg_delete(self, class_name: str, oid: int | str) -> None:
        self.cartegraph.delete(class_name, oid)
