"""CentralSquare EAM (formerly Lucity): Work Requests and Work Orders."""

from .connector import LucityWorkOrderConnector, LucityWorkRequestConnector

CONNECTORS = [LucityWorkRequestConnector, LucityWorkOrderConnector]

__all__ = ["CONNECTORS", "LucityWorkOrderConnector", "LucityWorkRequestConnector"]
