"""Failed sign-ins, limited per account and per client address.

Written on ``limits`` (the library under Flask-Limiter) rather than with
Flask-Limiter itself: Flask-Limiter counts *requests* to a view, keeps its
storage on one extension object (one per app, decorators registered per
object), and has no way to clear an account's count on success. Sign-in
needs exactly three calls: is this account or address blocked (asked before
the password is checked, so a blocked guesser learns nothing), count a
failure, clear the account's count after a success. The counts live in
Redis when ``REDIS_URL`` is set (shared by every web process) and in memory
otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("crosswalk.auth")

EXTENSION = "crosswalk_signin_limits"


@dataclass
class SignInLimits:
    limiter: MovingWindowRateLimiter
    per_account: RateLimitItem
    per_address: RateLimitItem

    def blocked(self, email: str, address: str) -> bool:
        try:
            return not (
                self.limiter.test(self.per_account, "account", email)
                and self.limiter.test(self.per_address, "address", address)
            )
        except Exception:  # storage down: sign-in still works, and the log says so
            log.exception("sign-in limits: storage unavailable; not limiting")
            return False

    def failed(self, email: str, address: str) -> None:
        try:
            self.limiter.hit(self.per_account, "account", email)
            self.limiter.hit(self.per_address, "address", address)
        except Exception:
            log.exception("sign-in limits: storage unavailable; failure not counted")

    def succeeded(self, email: str) -> None:
        """The right password: the account's failures are forgotten (an
        address's are not: one office may share it with a guesser)."""
        try:
            self.limiter.clear(self.per_account, "account", email)
        except Exception:
            log.exception("sign-in limits: storage unavailable")

    def retry_after_minutes(self) -> int:
        return max(1, int(self.per_account.get_expiry() // 60))


def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL")
    storage = (
        storage_from_string(redis_url, key_prefix="crosswalk-signin")
        if redis_url
        else storage_from_string("memory://")
    )
    app.extensions[EXTENSION] = SignInLimits(
        MovingWindowRateLimiter(storage),
        parse(app.config["CROSSWALK_SIGNIN_LIMIT_ACCOUNT"]),
        parse(app.config["CROSSWALK_SIGNIN_LIMIT_ADDRESS"]),
    )


def limits() -> SignInLimits:
    return current_app.extensions[EXTENSION]
