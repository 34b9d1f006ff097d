"""OpenGov Enterprise Asset Management (formerly Cartegraph OMS)."""

from .connector import CartegraphConnector
from .settings import CartegraphSettings

CONNECTORS = [CartegraphConnector]

__all__ = ["CONNECTORS", "CartegraphConnector", "CartegraphSettings"]
