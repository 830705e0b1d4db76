"""A small thread-safe LRU cache whose entries hold while their signature is unchanged.

The policy's git history (keyed by the git directory, signed by its refs' stats)
and a session's spoken vocabulary (keyed by the directory, signed by its and its
manifests' mtimes) are kept in one each: cheap to check, costly to compute again.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

__all__ = ["SignedCache"]

V = TypeVar("V")


class SignedCache(Generic[V]):
    """The most recently used ``size`` values, each valid for the signature it was stored with."""

    def __init__(self, size: int) -> None:
        """Keep at most ``size`` entries (the least recently used go first).

        Args:
            size: The most entries kept.
        """
        self._size = size
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[str, tuple[object, V]] = collections.OrderedDict()

    def lookup(self, key: str, signature: object) -> tuple[V] | None:
        """The value stored for ``key`` with this ``signature``, in a 1-tuple; else None.

        A stored None is found as ``(None,)``; a value stored with another signature
        is stale and not returned.

        Args:
            key: What the value is of.
            signature: What it must have been computed for.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != signature:
                return None
            self._entries.move_to_end(key)
            return (entry[1],)

    def store(self, key: str, signature: object, value: V) -> None:
        """Keep ``value`` for ``key`` while ``signature`` holds.

        Args:
            key: What the value is of.
            signature: What it was computed for.
            value: The value.
        """
        with self._lock:
            self._entries[key] = (signature, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
