"""The sync engine: what views, workers and the CLI call. It talks to the
database, and through ``integrations`` and ``geo`` to the outside world."""
