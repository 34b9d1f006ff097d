"""The worker layer: RQ's job function (``jobs.perform``), the worker
classes and the in-process worker thread, and the ``crosswalk worker`` and
``crosswalk demo`` commands. Thin: what a job does is the sync engine's;
this layer pushes an app context, runs it, and handles RQ's retries.

It depends on ``webapp``; ``webapp`` never imports it."""
