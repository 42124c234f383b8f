"""Reference data cached per process and checked once per transaction.

Departments (with their aliases) and the working calendar are read by nearly every request and
change a few times a year. Each kind has a generation number in ``reference_generation``; an ORM
flush or an ORM bulk statement that touches one of its tables bumps that number in the same
transaction, so writers need not remember anything and every node sees the change as soon as it
commits. A reader asks for the generations (one query of two rows) at most once per
``CHECK_SECONDS`` per process and reuses the object built for that generation; a transaction that
changed the data itself builds its own copy and does not share it, and its commit drops this
process's cached copies at once. Another node therefore sees a change within ``CHECK_SECONDS`` —
the same as if its transaction had started that much earlier.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from engine.storage import district
from engine.storage.models import (
    CalendarDay,
    CalendarYear,
    Department,
    DepartmentAlias,
    DistrictCalendarDay,
    ReferenceGeneration,
)

KINDS = {Department: "org", DepartmentAlias: "org", CalendarDay: "calendar", CalendarYear: "calendar",
         DistrictCalendarDay: "calendar"}
_LOCAL, _DIRTY, _GENERATIONS = "zjtx_ref", "zjtx_ref_dirty", "zjtx_ref_generations"

CHECK_SECONDS = 1.0
_GENERATIONS_QUERY = select(ReferenceGeneration.kind, ReferenceGeneration.generation)

# SQLAlchemy engine → {kind: (generation, value)}; one database per engine object.
_shared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# SQLAlchemy engine → (generations, monotonic moment they were read)
_checked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def cached(session: Session, kind: str, build: Callable[[Session], object]):
    """The value of ``build(session)`` for the current generation of ``kind``."""
    local = session.info.setdefault(_LOCAL, {})
    key = (kind, district.current())  # each district its own units and calendar overrides
    if key in local:
        return local[key]
    if kind in session.info.get(_DIRTY, ()):
        local[key] = build(session)
        return local[key]
    bind = session.get_bind().engine  # a session bound to a Connection (Database.unit) shares the engine's
    generations = session.info.get(_GENERATIONS)
    if generations is None:
        if any(type(obj) in KINDS for obj in (*session.new, *session.dirty, *session.deleted)):
            session.flush()  # pending changes to this kind of data make this transaction's copy its own
            if kind in session.info.get(_DIRTY, ()):
                local[key] = build(session)
                return local[key]
        recent = _checked.get(bind)
        if recent is not None and time.monotonic() - recent[1] < CHECK_SECONDS:
            generations = recent[0]
        else:
            generations = dict(session.execute(_GENERATIONS_QUERY).all())
            if kind in session.info.get(_DIRTY, ()):  # the query flushed this transaction's own changes
                local[key] = build(session)
                return local[key]
            _checked[bind] = (generations, time.monotonic())
        session.info[_GENERATIONS] = generations
    generation = generations.get(kind)
    with _lock:
        store = _shared.setdefault(bind, {})
        hit = store.get(key)
    if generation is not None and hit is not None and hit[0] == generation:
        value = hit[1]
    else:
        value = build(session)
        if generation is not None:
            with _lock:
                store[key] = (generation, value)
    local[key] = value
    return value


def _bump(session: Session, kinds: set[str]) -> None:
    fresh = kinds - session.info.get(_DIRTY, set())
    session.info.setdefault(_DIRTY, set()).update(kinds)
    local = session.info.get(_LOCAL, {})
    for key in [k for k in local if k[0] in kinds]:
        del local[key]
    if fresh:
        session.connection().execute(update(ReferenceGeneration).where(ReferenceGeneration.kind.in_(sorted(fresh)))
                                     .values(generation=ReferenceGeneration.generation + 1))


def _forget(session: Session, *_args) -> None:
    for key in (_LOCAL, _DIRTY, _GENERATIONS):
        session.info.pop(key, None)


def _committed(session: Session) -> None:
    if session.info.get(_DIRTY):
        with _lock:  # this process changed reference data: every engine here re-reads it
            _checked.clear()
            for store in _shared.values():
                for key in [k for k in store if k[0] in session.info[_DIRTY]]:
                    del store[key]
    _forget(session)


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _context, _instances) -> None:
    kinds = {KINDS[type(obj)] for obj in (*session.new, *session.dirty, *session.deleted) if type(obj) in KINDS}
    if kinds:
        _bump(session, kinds)


@event.listens_for(Session, "do_orm_execute")
def _on_statement(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    kind = KINDS.get(mapper.class_) if mapper is not None else None
    if kind is not None:
        _bump(state.session, {kind})


event.listen(Session, "after_commit", _committed)
event.listen(Session, "after_soft_rollback", _forget)
