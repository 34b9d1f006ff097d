"""The sync engine: what views, workers and the CLI call (through
``engine``, its entry points). It talks to the database, and through
``integrations`` and ``geo`` to the outside world.

Where things are:

- ``engine`` — the entry points, one per use case.
- ``lifecycle`` — the sync link's states, legal moves, legs and queries.
- ``ingest`` / ``crm_poll`` / ``webhook`` — CRM issues in.
- ``push`` (+ ``outbound``, ``addresses``) — legs out to the vendors.
- ``remote_poll`` (+ ``rules``) — remote state back: closes, comments, rules.
- ``category_sync`` / ``request_types`` / ``importer`` / ``sweep`` — periodic work.
- ``schedule`` — the periodic work as data; ``jobs`` — every background job kind.
- ``vendors`` — validated settings and the vendor clients built from them.
- ``configure`` — the agency file into the database; ``dashboard_queries``,
  ``open311`` — read-only views of the state.
"""
