"""Stateful local stand-ins for SeeClickFix, Cartegraph (OpenGov EAM) and ArcGIS.

Each simulator is a small Flask app speaking only the documented wire format,
plus a ``/_sim/`` control plane for tests. Start them with
:func:`simulators.launch.start_simulators` or ``python -m simulators``.
"""
