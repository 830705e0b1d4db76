"""SignedCache: an entry holds while its signature is unchanged; the oldest go first."""

from __future__ import annotations

from voice_agent.policy.signed_cache import SignedCache


def test_a_value_holds_for_its_signature_only() -> None:
    cache: SignedCache[int | None] = SignedCache(4)
    assert cache.lookup("a", 1) is None
    cache.store("a", 1, None)
    assert cache.lookup("a", 1) == (None,)  # a stored None is found
    assert cache.lookup("a", 2) is None  # stale
    cache.clear()
    assert cache.lookup("a", 1) is None


def test_the_least_recently_used_goes_first() -> None:
    cache: SignedCache[str] = SignedCache(2)
    cache.store("a", 0, "A")
    cache.store("b", 0, "B")
    assert cache.lookup("a", 0) == ("A",)  # a is now the most recent
    cache.store("c", 0, "C")
    assert cache.lookup("b", 0) is None
    assert cache.lookup("a", 0) == ("A",)
    assert cache.lookup("c", 0) == ("C",)
