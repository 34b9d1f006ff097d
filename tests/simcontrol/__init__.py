"""Controls of the simulators, one shape for all (see ``base.py``).

``CONTROLS`` maps each integration kind to the control of its simulator: the
connector contract suite (``tests/contract``) runs every registered kind
against its control, and fails for a kind that has none.
"""

from __future__ import annotations

from simulators.launch import RunningSimulators

from .base import SimulatorControl, WorkSystemControl
from .cartegraph import CartegraphControl
from .lucity import LucityControl, LucityWorkOrderControl, LucityWorkRequestControl
from .seeclickfix import SeeClickFixControl
from .sim_control import SimControl

CONTROLS: dict[str, type[WorkSystemControl]] = {
    control.kind: control
    for control in (CartegraphControl, LucityWorkRequestControl, LucityWorkOrderControl)
}


def control_for(kind: str, sims: RunningSimulators) -> WorkSystemControl:
    """The control of ``kind``'s simulator; LookupError names a kind without one."""
    control = CONTROLS.get(kind)
    if control is None:
        raise LookupError(
            f"no contract adapter for kind {kind!r}: add a WorkSystemControl for its "
            "simulator to tests/simcontrol and list it in CONTROLS"
        )
    return control.for_simulators(sims)


__all__ = [
    "CONTROLS",
    "CartegraphControl",
    "LucityControl",
    "LucityWorkOrderControl",
    "LucityWorkRequestControl",
    "SeeClickFixControl",
    "SimControl",
    "SimulatorControl",
    "WorkSystemControl",
    "control_for",
]
