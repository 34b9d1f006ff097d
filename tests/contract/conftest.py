"""The connector contract suite runs once per registered integration kind,
against that kind's simulator over loopback HTTP.

Kinds come from the registry (``connector_kinds()``), not from a list here:
a new vendor package is tested as soon as it registers, and a kind without
a simulator control fails every test with "no contract adapter for kind X"
instead of being skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.base import Connector, OutboundRequest, Requester
from integrations.registry import connector_class, connector_kinds
from tests.simcontrol import WorkSystemControl, control_for

ConnectorFactory = Callable[..., Connector]


@pytest.fixture(params=sorted(connector_kinds()))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def control(kind: str, simulators) -> WorkSystemControl:
    """The kind's simulator, reset: no records but the agency's configuration."""
    try:
        control = control_for(kind, simulators)
    except LookupError as exc:
        pytest.fail(str(exc), pytrace=False)
    control.reset()
    return control


@pytest.fixture
def connect(kind: str, control: WorkSystemControl) -> Iterator[ConnectorFactory]:
    """Build connectors of the kind on its simulator (``batch_size`` and setting
    overrides as keyword arguments); they are closed after the test."""
    made: list[Connector] = []

    def make(*, batch_size: int | None = None, **overrides: Any) -> Connector:
        cls = connector_class(kind)
        data = control.connector_settings(batch_size=batch_size, **overrides)
        connector = cls(cls.settings_model.model_validate(data), environ=control.environ())
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def outbound(control: WorkSystemControl) -> Callable[..., OutboundRequest]:
    """A resident's report for CRM issue ``crm_issue_id``, in a category the
    simulator accepts."""

    def build(crm_issue_id: int, **overrides: Any) -> OutboundRequest:
        data: dict[str, Any] = {
            "crm_issue_id": crm_issue_id,
            "category_remote_id": control.sample_category,
            "summary": "Pothole",
            "description": f"Report {crm_issue_id}: deep hole in the right lane",
            "lat": 41.3083,
            "lng": -72.9279,
            "reported_address": "165 Church St",
            "verified_address": "165 Church St, New Haven, CT 06510",
            "image_url": None,
            "requester": Requester(email="ada@example.com", first_name="Ada", last_name="Res"),
        }
        data.update(overrides)
        return OutboundRequest(**data)

    return build
