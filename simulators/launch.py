"""Start all the simulators together (tests, demo, ``python -m simulators``).

SeeClickFix, Cartegraph and ArcGIS always run; the Lucity (CentralSquare EAM)
simulator runs too unless ``start_simulators(lucity=False)``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from simulators.arcgis import DEFAULT_PATH as ARCGIS_PATH
from simulators.arcgis import ArcGISState, create_arcgis_app
from simulators.cartegraph import DEFAULT_PREFIX as CARTEGRAPH_PREFIX
from simulators.cartegraph import create_cartegraph_app
from simulators.cartegraph_store import CartegraphState
from simulators.lucity import API_PREFIX as LUCITY_API_PREFIX
from simulators.lucity import CITIZEN_PREFIX as LUCITY_CITIZEN_PREFIX
from simulators.lucity import LucityState, configure_lucity, create_lucity_app, seed_lucity
from simulators.seeclickfix import create_seeclickfix_app
from simulators.seeclickfix_store import API_PREFIX as SCF_PREFIX
from simulators.seeclickfix_store import SeeClickFixState
from simulators.seed import (
    boundary,
    configure_cartegraph,
    configure_seeclickfix,
    load_seed_data,
    seed_arcgis,
    seed_cartegraph,
    seed_seeclickfix,
)
from simulators.server import SimulatorServer, SimulatorState


@dataclass
class RunningSimulators:
    seeclickfix: SimulatorServer
    cartegraph: SimulatorServer
    arcgis: SimulatorServer
    seeclickfix_state: SeeClickFixState
    cartegraph_state: CartegraphState
    arcgis_state: ArcGISState
    lucity: SimulatorServer | None = None
    lucity_state: LucityState | None = None

    @property
    def scf_base_url(self) -> str:
        return f"{self.seeclickfix.url}{SCF_PREFIX}"

    @property
    def cartegraph_base_url(self) -> str:
        return f"{self.cartegraph.url}{CARTEGRAPH_PREFIX}"

    @property
    def arcgis_url(self) -> str:
        return f"{self.arcgis.url}{ARCGIS_PATH}"

    @property
    def lucity_base_url(self) -> str:
        """The Lucity Citizen REST API (``CitizenPortalRESTAPI``), no auth."""
        return f"{self._lucity_server().url}{LUCITY_CITIZEN_PREFIX}"

    @property
    def lucity_internal_url(self) -> str:
        """The Lucity internal REST API (HTTP Basic), e.g. ``{url}/Work/Requests.svc/``."""
        return f"{self._lucity_server().url}{LUCITY_API_PREFIX}"

    def _lucity_server(self) -> SimulatorServer:
        if self.lucity is None:
            raise RuntimeError("the Lucity simulator was not started (lucity=False)")
        return self.lucity

    @property
    def states(self) -> tuple[SimulatorState, ...]:
        states: tuple[SimulatorState, ...] = (
            self.seeclickfix_state,
            self.cartegraph_state,
            self.arcgis_state,
        )
        return states if self.lucity_state is None else (*states, self.lucity_state)

    def reset(self) -> None:
        """Every simulator back to its initial (seeded) data, without faults or logs."""
        for state in self.states:
            state.reset()

    def stop(self) -> None:
        for server in (self.seeclickfix, self.cartegraph, self.arcgis, self.lucity):
            if server is not None:
                server.stop()
        for state in self.states:
            state.close()

    def __enter__(self) -> RunningSimulators:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_simulators(
    host: str = "127.0.0.1",
    *,
    seed: bool = True,
    auto_progress: bool = False,
    scf_token: str = "demo-token",
    organization_id: int = 1234,
    cg_username: str = "crosswalk",
    cg_password: str = "demo-password",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    ports: tuple[int, int, int] = (0, 0, 0),
    cg_custom_fields: tuple[str, ...] = ("PriorityField", "DepthField", "ReportedOnField"),
    lucity: bool = True,
    lucity_port: int = 0,
) -> RunningSimulators:
    """Start SeeClickFix, Cartegraph and ArcGIS simulators (``ports`` in that order;
    0 picks a free port), and the Lucity one on ``lucity_port`` unless ``lucity=False``.

    ``seed=False`` still configures the agency (boundary, time zone, request types,
    request categories, address points) but creates no demo records: no CRM issues,
    requesters or staff-entered Cartegraph requests.
    """
    data = load_seed_data()
    scf_state = SeeClickFixState(
        token=scf_token,
        organization_id=organization_id,
        organization_name=data["agency"]["name"],
        boundary=boundary(data),
        timezone=data["agency"]["timezone"],
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        seeder=seed_seeclickfix if seed else configure_seeclickfix,
    )
    cg_state = CartegraphState(
        username=cg_username,
        password=cg_password,
        custom_fields=cg_custom_fields,
        auto_progress=auto_progress,
        seeder=seed_cartegraph if seed else configure_cartegraph,
    )
    arcgis_state = ArcGISState(seeder=seed_arcgis)
    lucity_state = LucityState(seeder=seed_lucity if seed else configure_lucity) if lucity else None
    servers = [
        SimulatorServer(create_seeclickfix_app(scf_state), host, ports[0]),
        SimulatorServer(create_cartegraph_app(cg_state), host, ports[1]),
        SimulatorServer(create_arcgis_app(arcgis_state), host, ports[2]),
    ]
    if lucity_state is not None:
        servers.append(SimulatorServer(create_lucity_app(lucity_state), host, lucity_port))
    states: list[SimulatorState] = [scf_state, cg_state, arcgis_state]
    if lucity_state is not None:
        states.append(lucity_state)
    try:
        for server in servers:
            server.start()
    except OSError:
        for server in servers:
            server.stop()
        for state in states:
            state.close()
        raise
    return RunningSimulators(
        *servers[:3],
        scf_state,
        cg_state,
        arcgis_state,
        lucity=servers[3] if lucity_state is not None else None,
        lucity_state=lucity_state,
    )


def serve_forever(
    host: str = "127.0.0.1",
    *,
    ports: tuple[int, int, int] = (8101, 8102, 8103),
    **options: Any,
) -> None:
    """Start the simulators, print how to reach them, and block until Ctrl-C.

    ``options`` are :func:`start_simulators` keyword arguments. Fixed default
    ports keep the URLs stable between runs of the CLI.
    """
    options.setdefault("lucity_port", 8104)
    sims = start_simulators(host, ports=ports, **options)
    scf, cg = sims.seeclickfix_state, sims.cartegraph_state
    print(
        f"SeeClickFix  {sims.scf_base_url}  (Bearer {scf.token}, "
        f"organization {scf.organization_id})"
    )
    print(f"Cartegraph   {sims.cartegraph_base_url}  (Basic {cg.username}:{cg.password})")
    print(f"ArcGIS       {sims.arcgis_url}/reverseGeocode")
    if sims.lucity_state is not None:
        lucity = sims.lucity_state
        print(f"Lucity       {sims.lucity_base_url}  (citizen API, no auth)")
        print(
            f"             {sims.lucity_internal_url}  (Basic {lucity.username}:{lucity.password})"
        )
    print("Control planes: <server>/_sim/ (state, reset, faults, latency, requests).")
    print("Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sims.stop()
