"""Signed webhook delivery for the SeeClickFix simulator.

The real CRM's webhooks are undocumented, so Crosswalk accepts webhooks in a
format of its own; the simulator sends exactly that format. Deliveries run on
one background thread so they arrive in the order the events happened (an
issue before its comments) and never block the request that caused them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from typing import Any

import requests

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Crosswalk-Timestamp"
SIGNATURE_HEADER = "X-Crosswalk-Signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC of ``"{timestamp}.{body}"``; the timestamp stops replays."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class WebhookSender:
    """Queue of pending deliveries drained by a lazily started daemon thread."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, url: str, secret: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scf-webhooks", daemon=True)
                self._thread.start()
        self._queue.put((url, secret, body))

    def flush(self) -> None:
        """Block until every queued delivery was attempted (for tests)."""
        self._queue.join()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=self.timeout + 1)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                self._queue.task_done()

    def _deliver(self, url: str, secret: str, body: bytes) -> None:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "seeclickfix-simulator",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        try:
            response = requests.post(url, data=body, headers=headers, timeout=self.timeout)
            response.raise_for_status()
        except requests.RequestException as exc:
            self.failed += 1
            log.warning("webhook delivery to %s failed: %s", url, exc)
        else:
            self.delivered += 1
