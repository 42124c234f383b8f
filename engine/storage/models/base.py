"""Column types and the declarative base shared by every table."""
from __future__ import annotations

import zlib
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    LargeBinary,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.storage import district

JSONType = JSON().with_variant(JSONB(), "postgresql")


class CompressedText(TypeDecorator):
    """Text stored zlib-compressed: an instance state (JSON, ~11 KB) takes ~2 KB. Values written as
    plain text (before compression was introduced) still read back unchanged."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else zlib.compress(value.encode("utf-8"), 3)

    def process_result_value(self, value, dialect):
        if value is None or isinstance(value, str):
            return value
        data = bytes(value)
        return data.decode("utf-8") if data[:1] == b"{" else zlib.decompress(data).decode("utf-8")


class UTCDateTime(TypeDecorator):
    """Stores naive UTC on every backend and returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class DistrictScoped:
    """A table holding a district's data (docs/districts.md): ``district_id`` is the current district's when a
    new row names none, and every ORM query of it is filtered by the current district
    (engine/storage/district.py)."""

    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), default=district.row_default,
                                             server_default=str(district.FIRST_DISTRICT))


SCOPE_FILTER = district.install_filter(DistrictScoped)
