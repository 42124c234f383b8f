"""Caches bounded by the bytes they hold, not by how many entries they have.

A bound on entries (``functools.lru_cache(maxsize=N)``) is only as good as the largest entry. The
sandbox's compile caches kept up to 1,024 + 2,048 code objects, and a code object takes three to six
times its script's length (Python 3.11 stores a position table with columns and inline-cache slots for
each instruction, and a name and a constant for each distinct one), plus the script itself as the key:
a 1.5 MB script held 8 MB. Nothing leaked: the entries were just big, and nothing counted them.

Each cache here has a byte budget. An entry's size is estimated once, when it is stored (key + value,
:func:`estimate`, plus :data:`ENTRY_OVERHEAD`); the least recently used entries are dropped until the
total fits; an entry larger than the whole budget is not kept (it is computed again on each use).
Every cache has its own lock, because the web threads and the scheduler thread share them. The
counters (hits, misses, bytes …) of every cache in this process are in :func:`all_stats` (/metrics).
"""
from __future__ import annotations

import functools
import sys
import threading
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MB = 1024 * 1024
# The cache's own bookkeeping per entry: the ordered dict's slot and link, the (value, size) pair.
ENTRY_OVERHEAD = 200
_MISSING: Any = object()
_LEAVES = (str, bytes, int, float, complex, bool, type(None))
_CONTAINERS = (tuple, list, set, frozenset)
# Shared or global things an estimate must not walk into (a function leads to its module's globals).
_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
_CODE_PARTS = ("co_consts", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_linetable",
               "co_exceptiontable", "co_filename", "co_name", "co_qualname")


def _parts(obj) -> list:
    """What ``obj`` holds that :func:`estimate` counts as well."""
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, _CONTAINERS):
        return list(obj)
    if isinstance(obj, types.CodeType):
        # sys.getsizeof(code) already counts the instructions; reading co_code would make (and in
        # Python 3.11 keep) a copy of them, so it is never read here.
        return [getattr(obj, name) for name in _CODE_PARTS]
    if isinstance(obj, _LEAVES):
        return []
    parts = [vars(obj)] if hasattr(obj, "__dict__") else []
    for cls in type(obj).__mro__:
        slots = getattr(cls, "__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                parts.append(getattr(obj, slot))
    return parts


def estimate(*objects) -> int:
    """Bytes held by ``objects`` and what they contain: ``sys.getsizeof`` summed over strings,
    numbers, containers, code objects (with their constants, names and tables: nested code objects of
    comprehensions and functions included) and plain objects' attributes; each object once. Classes,
    modules and functions count as nothing: they are shared. An over-estimate where objects are
    shared with others (interned names), which is the safe side for a budget."""
    seen: dict[int, object] = {}  # keeps what it saw alive, so that no id is reused during the walk
    stack, total = list(objects), 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen[id(obj)] = obj
        total += sys.getsizeof(obj, 64)  # the default: a C type that cannot tell its size
        stack.extend(_parts(obj))
    return total


def _default_size(key, value) -> int:
    return estimate(key, value)


@dataclass(frozen=True)
class CacheStats:
    name: str
    budget: int    # bytes
    bytes: int     # estimated bytes held now
    entries: int
    hits: int
    misses: int
    evictions: int  # entries dropped to make room
    refused: int    # values not kept because they alone exceed the budget


_registry: weakref.WeakSet = weakref.WeakSet()
_registry_lock = threading.Lock()


class ByteLRU(Generic[K, V]):
    """A least-recently-used map whose entries' estimated sizes never add up to more than ``budget``.

    ``size_of(key, value)`` estimates one entry (default :func:`estimate` of both); it runs outside
    the lock, once per stored entry."""

    def __init__(self, name: str, budget: int, size_of: Callable[[K, V], int] | None = None):
        if budget < 0:
            raise ValueError(f"cache {name}: budget must not be negative, got {budget}")
        self.name, self.budget = name, budget
        self._size_of = size_of or _default_size
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = self._hits = self._misses = self._evictions = self._refused = 0
        self._lock = threading.Lock()
        with _registry_lock:
            _registry.add(self)

    def get(self, key: K, default: Any = None) -> Any:
        """The value for ``key`` (now the most recently used), else ``default``; counts a hit or a miss."""
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is _MISSING:
                self._misses += 1
                return default
            self._entries.move_to_end(key)
            self._hits += 1
            return found[0]

    def put(self, key: K, value: V) -> bool:
        """Store ``value`` under ``key``, dropping the least recently used entries until the budget
        holds; False (and nothing stored, any older value for ``key`` dropped) when the entry alone
        is larger than the budget."""
        size = self._size_of(key, value) + ENTRY_OVERHEAD
        with self._lock:
            return self._store(key, value, size, replace=True) is not _MISSING

    def get_or_build(self, key: K, build: Callable[[], V]) -> V:
        """The cached value for ``key``, else ``build()`` (outside the lock), stored if it fits. When
        two threads build the same key at once, both get the value stored first, so a cached object
        is never shared by some callers and not others."""
        found = self.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = build()
        size = self._size_of(key, value) + ENTRY_OVERHEAD
        with self._lock:
            kept = self._store(key, value, size, replace=False)
        return value if kept is _MISSING else kept

    def _store(self, key: K, value: V, size: int, replace: bool):
        """Under the lock: the value now held for ``key``, or _MISSING when it was too big to keep."""
        old = self._entries.get(key, _MISSING)
        if old is not _MISSING and not replace:
            self._entries.move_to_end(key)
            return old[0]
        if old is not _MISSING:
            del self._entries[key]
            self._bytes -= old[1]
        if size > self.budget:
            self._refused += 1
            return _MISSING
        self._entries[key] = (value, size)
        self._bytes += size
        while self._bytes > self.budget:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped
            self._evictions += 1
        return value

    def __contains__(self, key: K) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.name, self.budget, self._bytes, len(self._entries), self._hits, self._misses,
                              self._evictions, self._refused)


class CachedFunction(Generic[K, V]):
    """A one-argument function whose results are kept in a :class:`ByteLRU` (as ``lru_cache`` does,
    exceptions are not cached)."""

    def __init__(self, function: Callable[[K], V], cache: ByteLRU[K, V]):
        functools.update_wrapper(self, function)
        self.function, self.cache = function, cache

    def __call__(self, argument: K) -> V:
        return self.cache.get_or_build(argument, lambda: self.function(argument))

    def cache_clear(self) -> None:
        self.cache.clear()


def byte_cached(name: str, budget: int, size_of: Callable[[Any, Any], int] | None = None):
    """Decorator: ``@byte_cached("sandbox.compile_exec", 16 * MB)`` instead of ``@lru_cache(maxsize=…)``."""
    def wrap(function: Callable[[K], V]) -> CachedFunction[K, V]:
        return CachedFunction(function, ByteLRU(name, budget, size_of))
    return wrap


def all_stats() -> list[CacheStats]:
    """The counters of every live cache in this process, by name (several caches of one name, such
    as the version caches of several runtimes in one process, are added up)."""
    with _registry_lock:
        caches = list(_registry)
    totals: dict[str, CacheStats] = {}
    for stats in (cache.stats() for cache in caches):
        before = totals.get(stats.name)
        if before is not None:
            stats = CacheStats(stats.name, before.budget + stats.budget, before.bytes + stats.bytes,
                               before.entries + stats.entries, before.hits + stats.hits, before.misses + stats.misses,
                               before.evictions + stats.evictions, before.refused + stats.refused)
        totals[stats.name] = stats
    return sorted(totals.values(), key=lambda s: s.name)
