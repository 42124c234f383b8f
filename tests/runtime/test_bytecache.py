"""Caches are bounded by the bytes they hold (engine.bytecache): the sandbox's compile caches, the
version caches and the holiday years, whatever size the scripts and diagrams have."""
from __future__ import annotations

import gc
import random
import sys
import threading
import tracemalloc
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine import bytecache
from engine.bytecache import ENTRY_OVERHEAD, MB, ByteLRU, estimate
from engine.runtime import sandbox
from engine.runtime.scripting import SandboxedEnvironment
from engine.runtime.serialization import SPEC_OBJECT_BYTES_PER_CHAR, SpecCache

SANDBOX_CACHES = (sandbox.compile_eval, sandbox.compile_exec, sandbox.is_bounded)


def sized(key, value) -> int:
    """Entries of a known size: the value is the number of bytes it stands for."""
    return value - ENTRY_OVERHEAD


def test_the_least_recently_used_entries_go_when_the_bytes_run_out():
    cache: ByteLRU[int, int] = ByteLRU("test.sized", budget=10 * 1000, size_of=sized)
    for key in range(50):
        assert cache.put(key, 1000)
    stats = cache.stats()
    assert stats.bytes == 10 * 1000 and stats.entries == 10 and stats.evictions == 40
    assert [k for k in range(50) if k in cache] == list(range(40, 50))
    cache.put(100, 4000)  # one big entry pushes out the four oldest
    assert [k for k in range(101) if k in cache] == [*range(44, 50), 100] and cache.stats().bytes == 10_000


def test_a_recently_read_entry_outlives_older_ones():
    cache: ByteLRU[str, int] = ByteLRU("test.recency", budget=3 * 1000, size_of=sized)
    for key in "abc":
        cache.put(key, 1000)
    assert cache.get("a") == 1000
    cache.put("d", 1000)
    assert "a" in cache and "b" not in cache and "c" in cache and "d" in cache


def test_an_entry_larger_than_the_budget_is_not_kept_and_keeps_the_others():
    cache: ByteLRU[str, int] = ByteLRU("test.refuse", budget=5000, size_of=sized)
    cache.put("small", 1000)
    assert cache.put("huge", 5001) is False
    assert "huge" not in cache and "small" in cache
    assert cache.get_or_build("huge2", lambda: 9999) == 9999  # still computed for the caller
    cache.put("small", 6000)  # a value too big to replace the old one: the old one goes too
    stats = cache.stats()
    assert "small" not in cache and (stats.refused, stats.entries, stats.bytes, stats.evictions) == (3, 0, 0, 0)


def test_get_or_build_builds_once_and_does_not_cache_failures():
    cache: ByteLRU[str, list] = ByteLRU("test.build", budget=MB)
    calls = []

    def build():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first try fails")
        return ["value"]

    with pytest.raises(ValueError):
        cache.get_or_build("k", build)
    first = cache.get_or_build("k", build)
    assert cache.get_or_build("k", build) is first and len(calls) == 2
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 2, 1)
    assert stats.bytes == estimate("k", first) + ENTRY_OVERHEAD


def test_many_threads_keep_the_budget_and_the_counts():
    budget = 20_000
    cache: ByteLRU[int, int] = ByteLRU("test.threads", budget=budget, size_of=lambda k, v: (k % 37) * 100 + 50)
    reads = [0] * 8
    over: list[int] = []
    stop = threading.Event()

    def hammer(n: int) -> None:
        rng = random.Random(n)
        for _ in range(8000):
            key = rng.randrange(400)
            choice = rng.random()
            if choice < 0.4:
                cache.put(key, key)
            elif choice < 0.8:
                assert cache.get(key) in (None, key)
                reads[n] += 1
            else:
                assert cache.get_or_build(key, lambda k=key: k) == key
                reads[n] += 1

    def watch() -> None:
        while not stop.is_set():
            if cache.stats().bytes > budget:
                over.append(cache.stats().bytes)

    watcher = threading.Thread(target=watch)
    watcher.start()
    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    watcher.join()
    stats = cache.stats()
    held = [k for k in range(400) if k in cache]
    assert not over and stats.bytes <= budget and stats.entries == len(held) > 0
    assert stats.bytes == sum((k % 37) * 100 + 50 + ENTRY_OVERHEAD for k in held)
    assert stats.hits + stats.misses == sum(reads)


def test_the_estimate_of_a_code_object_counts_what_it_holds():
    small = sandbox.compile_exec.function("x = 1")
    big = sandbox.compile_exec.function("x = '" + "a" * 100_000 + "'\ny = [i for i in range(3)]")
    assert 100_000 < estimate(big) < 100_000 + 4000 and estimate(small) < 2000
    chinese = sandbox.compile_exec.function("x = '" + "审批" * 50_000 + "'")  # two bytes a character
    assert estimate(chinese) > 200_000


def _clear_sandbox_caches() -> None:
    for cached in SANDBOX_CACHES:
        cached.cache_clear()


def _conditions_and_scripts(env: SandboxedEnvironment, conditions: int, scripts: int) -> None:
    """What validating and running many diagrams asks of the sandbox: distinct conditions (evaluated
    in the engine: compile_eval and is_bounded) and distinct scripts (compile_exec, as validation does)."""
    for i in range(conditions):
        assert env.evaluate(f"amount > {i} and level == 'L{i}'", {"amount": i + 1, "level": f"L{i}"}) is True
    for i in range(scripts):
        sandbox.compile_exec(f"total = amount + {i}\nlevel = 'high' if total > {i} else 'low'\n")


def _big_ones(env: SandboxedEnvironment) -> None:
    """40 scripts of 200 KB and 60 expressions of 1 MB (a long text literal is the cheapest way to
    make code big: a statement costs a millisecond to compile)."""
    for i in range(40):
        sandbox.compile_exec(f"note = '{i}" + "备" * 100_000 + "'\n")
    for i in range(60):
        assert len(env.evaluate(f"'{i}" + "a" * 1_000_000 + "'", {})) == 1_000_000 + len(str(i))


def _kept_by_the_caches(work) -> int:
    """Bytes still traced after ``work`` (its inputs are gone: what remains is what the caches keep)."""
    _clear_sandbox_caches()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        work()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _assert_within_the_budgets(grown: int) -> None:
    # lru_cache(2048/1024/4096) kept all of it: about 140 MB here (and 8 MB for one 1.5 MB script).
    assert grown < 64 * MB, f"the sandbox's caches kept {grown / MB:.0f} MB"
    budgets = sandbox.COMPILE_EVAL_BYTES + sandbox.COMPILE_EXEC_BYTES + sandbox.BOUNDED_BYTES
    assert grown < budgets + 4 * MB
    for cached in SANDBOX_CACHES:
        stats = cached.cache.stats()
        assert 0 < stats.bytes <= stats.budget and stats.evictions > 0
    # The estimates are not optimistic: what the caches say they hold is near what they really hold.
    assert sum(c.cache.stats().bytes for c in SANDBOX_CACHES) > 0.8 * grown
    _clear_sandbox_caches()


def test_big_scripts_and_expressions_stay_within_the_budgets():
    env = SandboxedEnvironment()

    def work():
        _conditions_and_scripts(env, 300, 100)
        _big_ones(env)

    _assert_within_the_budgets(_kept_by_the_caches(work))


@pytest.mark.slow
def test_thousands_of_distinct_scripts_and_big_ones_stay_within_the_budgets():
    env = SandboxedEnvironment()

    def work():
        _conditions_and_scripts(env, 3000, 1000)
        _big_ones(env)
        _conditions_and_scripts(env, 1000, 300)  # seen again after the big ones pushed them out

    _assert_within_the_budgets(_kept_by_the_caches(work))


def test_a_script_bigger_than_the_budget_runs_and_is_not_kept():
    env = SandboxedEnvironment()
    _clear_sandbox_caches()
    env.evaluate("amount > 1", {"amount": 2})
    huge = "'" + "x" * (sandbox.COMPILE_EVAL_BYTES // 2) + "'"  # key + constant: twice its length
    assert len(env.evaluate(huge, {})) == sandbox.COMPILE_EVAL_BYTES // 2
    stats = sandbox.compile_eval.cache.stats()
    assert stats.refused == 1 and stats.entries == 1 and "amount > 1" in sandbox.compile_eval.cache
    assert sandbox.compile_eval("amount > 1") is sandbox.compile_eval("amount > 1")  # the cache still works
    with pytest.raises(sandbox.SandboxViolation):  # refusals are not cached: the same message every time
        sandbox.compile_exec("import os")
    with pytest.raises(sandbox.SandboxViolation):
        sandbox.compile_exec("import os")
    _clear_sandbox_caches()


@pytest.mark.sqlite_only
def test_parsed_specs_are_kept_within_their_budget(zjtx):
    from engine.storage.models import ProcessVersion

    with zjtx.db.read() as session:
        versions = [(v.id, v.content_hash, v.spec_json) for v in session.scalars(select(ProcessVersion).limit(2))]
    (id1, hash1, json1), (id2, hash2, json2) = versions
    sizes = [sys.getsizeof(j) + SPEC_OBJECT_BYTES_PER_CHAR * len(j) + ENTRY_OVERHEAD for j in (json1, json2)]
    one = SpecCache(budget=max(sizes))  # room for either, not for both
    first = one.get((id1, hash1), lambda: json1)
    assert one.get((id1, hash1), lambda: pytest.fail("restored twice")) is first  # shared by every load
    one.get((id2, hash2), lambda: json2)
    assert one.get((id1, hash1), lambda: json1) is not first  # pushed out by the second, restored again


@pytest.mark.sqlite_only
def test_metrics_show_the_caches_of_the_process(zjtx):
    from engine.monitoring.metrics import render

    sandbox.compile_eval("amount > 3")
    text = render(zjtx.db, datetime.now(UTC)).decode()
    assert 'zjtx_cache_budget_bytes{cache="sandbox.compile_eval"} 8.388608e+06' in text
    assert 'zjtx_cache_bytes{cache="runtime.process_specs"}' in text
    assert 'zjtx_cache_hits_total{cache="sandbox.compile_exec"}' in text
    names = {s.name for s in bytecache.all_stats()}
    assert {"sandbox.compile_exec", "sandbox.is_bounded", "deadlines.package_years", "runtime.version_forms"} <= names
