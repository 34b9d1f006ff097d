"""Finds integration kinds by scanning the packages of ``integrations``.

Each vendor package exports ``CONNECTORS`` (a list of Connector classes), so
adding a vendor is adding a package: nothing else in the tree changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import Connector
from .errors import IntegrationConfigError


@cache
def connector_kinds() -> dict[str, type[Connector]]:
    import integrations

    kinds: dict[str, type[Connector]] = {}
    for module in pkgutil.iter_modules(integrations.__path__):
        if not module.ispkg:
            continue
        package = importlib.import_module(f"integrations.{module.name}")
        for connector in getattr(package, "CONNECTORS", ()):
            if connector.kind in kinds:
                raise RuntimeError(f"integration kind {connector.kind!r} is defined twice")
            kinds[connector.kind] = connector
    return kinds


def connector_class(kind: str) -> type[Connector]:
    kinds = connector_kinds()
    try:
        return kinds[kind]
    except KeyError:
        known = ", ".join(sorted(kinds)) or "none"
        raise IntegrationConfigError(
            f"unknown integration kind {kind!r} (known: {known})"
        ) from None
