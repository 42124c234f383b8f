"""The district (区县) a unit of work belongs to, and the service layer's filter by it (docs/districts.md).

Every table holding a district's data has ``district_id`` (:class:`engine.storage.models.base.DistrictScoped`).
The district of the unit of work is a context variable, set by the web layer per request (the signed-in user's
district), by the scheduler per claimed row and by the CLI from ``--district``; unset, it is the deployment's home
district (``ZJTX_DISTRICT``; 黔江区 in the embedded default), so a one-district installation names none anywhere.

Isolation is enforced twice:

- here, for every ORM statement of every session: SELECT, UPDATE and DELETE of a scoped model get
  ``district_id = <current>`` (``with_loader_criteria``, which also reaches relationship loads and joins), and a new
  row takes the current district;
- on PostgreSQL by row-level security keyed by the connection's ``zjtx.district`` setting, which
  :mod:`engine.storage.db` sets from the same variable at each transaction's begin, so a query that escaped the
  filter above (hand-written SQL, a future mistake) still sees only its district's rows.

:data:`ALL` is the scope of work across districts: the scheduler's claim statements and the city's read-only
views. It filters nothing and must not create a district's rows without naming their district.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

ALL = 0  # work across districts (never a district's id: ids start at 1)
FIRST_DISTRICT = 1  # 黔江区, which migration 0027 made: every row from before belongs to it

_current: ContextVar[int | None] = ContextVar("zjtx_district", default=None)
_home = FIRST_DISTRICT


class DistrictMissing(RuntimeError):
    """A district's row was to be written in the city-wide scope without naming its district."""


def set_home(district_id: int) -> None:
    """The district of work that names none (the CLI, the tests, a one-district installation)."""
    global _home
    _home = district_id


def home() -> int:
    return _home


def current() -> int:
    """The district of the unit of work: :data:`ALL` across districts, else a district's id."""
    value = _current.get()
    return _home if value is None else value


@contextmanager
def scope(district_id: int) -> Iterator[int]:
    """Run the block as work of ``district_id`` (or :data:`ALL`)."""
    token = _current.set(district_id)
    try:
        yield district_id
    finally:
        _current.reset(token)


def across() -> AbstractContextManager[int]:
    """The city-wide scope: for claims across districts and the city's read-only views."""
    return scope(ALL)


def enter(district_id: int | None) -> None:
    """Set the district for the rest of this context (a web request: Flask runs each in its own context)."""
    _current.set(district_id)


def row_default() -> int:
    """``district_id`` of a new row that names none: the current district."""
    value = current()
    if value == ALL:
        raise DistrictMissing("在全市范围内写入区县数据时必须指明区县")
    return value


_SETTING = text("SELECT set_config('zjtx.district', :district, true)")


@contextmanager
def writing_for(session: Session, district_id: int) -> Iterator[int]:
    """Within the session's transaction, work as ``district_id`` for the block: what it reads and writes is that
    district's (the ORM filter, and on PostgreSQL the policy's setting, changed for this transaction only), then the
    transaction goes on as the district it was. Only for what one district's change must tell another in the same
    transaction — the city's answer to the district that asked it (engine/policy/dispatch/city_link.py) — so that
    the notice cannot be lost or sent without the change. On an error the transaction is rolled back, and the
    setting with it."""
    before = current()
    postgresql = session.get_bind().dialect.name == "postgresql"
    session.flush()  # what was written so far is the district's before
    if postgresql:
        session.execute(_SETTING, {"district": str(district_id)})
    with scope(district_id):
        yield district_id
        session.flush()
    if postgresql:
        session.execute(_SETTING, {"district": str(before)})


def install_filter(mixin: type):
    """Filter every ORM SELECT/UPDATE/DELETE of a ``mixin`` model by the current district; returns the listener
    (the test of PostgreSQL's row-level security removes it to show the database refusing on its own)."""

    @event.listens_for(Session, "do_orm_execute")
    def _filter(state: ORMExecuteState) -> None:
        if not (state.is_select or state.is_update or state.is_delete):
            return
        district = current()
        if district == ALL:
            return
        if state.is_relationship_load:
            # Loading a relationship of a row this filter let through (a task's instance, a user's roles): its rows
            # refer to that row, and are of its district; only an unscoped parent's (a measure's units) need it.
            path = state.loader_strategy_path
            parent = getattr(path[0], "class_", None) if path is not None and len(path) else None
            if isinstance(parent, type) and issubclass(parent, mixin):
                return
        state.statement = state.statement.options(
            with_loader_criteria(mixin, lambda cls: cls.district_id == district, include_aliases=True,
                                 propagate_to_loaders=False))

    return _filter
