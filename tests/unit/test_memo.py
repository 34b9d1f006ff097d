"""The bounded, expiring memory of what a vendor confirmed (integrations.memo)."""

from __future__ import annotations

import pytest

from integrations.memo import ExpiringCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_time():
    clock = Clock()
    cache: ExpiringCache[str, str] = ExpiringCache(10, 60, clock=clock)
    cache.put("a@example.org", "Ada")
    clock.now = 59.9
    assert cache.get("a@example.org") == "Ada"
    clock.now = 60.0
    assert cache.get("a@example.org") is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first():
    cache: ExpiringCache[str, int] = ExpiringCache(2, 60, clock=Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # used: b is now the oldest
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_pop_takes_an_entry_once():
    cache: ExpiringCache[str, bool] = ExpiringCache(2, 60, clock=Clock())
    cache.put("x", True)
    assert cache.pop("x") is True
    assert cache.pop("x") is None


@pytest.mark.parametrize(("size", "seconds"), [(0, 1), (1, 0)])
def test_a_cache_needs_room_and_time(size, seconds):
    with pytest.raises(ValueError):
        ExpiringCache(size, seconds)
