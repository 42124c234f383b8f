"""Limits on password guessing that a stranger cannot turn against the innocent.

No hard lock-out. Failed logins slow down the *pair* (user name, address) that made them, with a delay
that doubles per failure after a few free ones; a right password after the delay signs in and clears
the pair. So:

- made-up names from one address slow down only those names from that address, never the others
  sharing it (behind the reverse proxy everyone may share one address, docs/deployment.md);
- someone guessing a colleague's password from another address slows down only themselves at that
  address; the colleague, at an address where they have signed in before, is not slowed at all;
- guessing one name from many addresses (addresses where that name never signed in) is slowed down
  as a whole, by the same doubling delay over all of them;
- an administrator can lift the limits of a user at once (``User.login_reset_at``).

Refusing an attempt during the delay checks no password, known name or not, and the password check
costs the same for an unknown or inactive name as for a real one (a dummy hash), so neither the answer
nor its timing tells whether a name exists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engine.storage.models import LoginAttempt, User

WINDOW = timedelta(hours=1)  # failures older than this are forgotten
FREE_FAILURES = 3  # per (name, address) before the first delay
FREE_FAILURES_NEW_ADDRESSES = 10  # per name, over all addresses where it never signed in
MAX_DELAY_SECONDS = 300
TRUSTED_ADDRESS_DAYS = 90  # an address where the name signed in within this many days is its own

_dummy_hash: str | None = None


def dummy_check(password: str) -> None:
    """The work of a password check for a name that has no usable password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash("zjtx-no-such-user")
    check_password_hash(_dummy_hash, password)


def delay_for(failures: int, free: int) -> float:
    """Seconds to wait after the last failure: none for the first ``free``, then 1, 2, 4 … up to 5 minutes."""
    if failures < free:
        return 0.0
    return float(min(MAX_DELAY_SECONDS, 2 ** (failures - free)))


@dataclass(frozen=True)
class Verdict:
    wait_seconds: int  # 0: the attempt may check the password

    @property
    def message(self) -> str:
        minutes = math.ceil(self.wait_seconds / 60)
        when = f"{self.wait_seconds} 秒" if self.wait_seconds < 60 else f"{minutes} 分钟"
        return f"登录失败次数较多，请 {when}后再试；如忘记密码，请联系系统管理员重置"


def failures(session: Session, since: datetime, *conditions) -> tuple[int, datetime | None]:
    count, last = session.execute(select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
        LoginAttempt.at >= since, LoginAttempt.success.is_(False), *conditions)).one()
    return count, last


def _last_success(session: Session, username: str, ip: str, since: datetime) -> datetime | None:
    return session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.success.is_(True),
        LoginAttempt.at >= since))


def verdict(session: Session, username: str, ip: str, user: User | None, now: datetime) -> Verdict:
    """May this (name, address) try a password now? Reads only the name's recent attempts (indexed)."""
    since = now - WINDOW
    if user is not None and user.login_reset_at is not None and user.login_reset_at > since:
        since = user.login_reset_at
    trusted_since = now - timedelta(days=TRUSTED_ADDRESS_DAYS)
    last_ok = _last_success(session, username, ip, trusted_since)
    pair_since = max(since, last_ok) if last_ok is not None else since
    count, last = failures(session, pair_since, LoginAttempt.username == username, LoginAttempt.ip == ip)
    wait = _remaining(delay_for(count, FREE_FAILURES), last, now)
    if last_ok is None:  # an address this name has not used: also the name's failures from all such addresses
        known_ips = select(LoginAttempt.ip).where(
            LoginAttempt.username == username, LoginAttempt.success.is_(True), LoginAttempt.at >= trusted_since)
        spread, spread_last = failures(session, since, LoginAttempt.username == username,
                                        LoginAttempt.ip.not_in(known_ips))
        wait = max(wait, _remaining(delay_for(spread, FREE_FAILURES_NEW_ADDRESSES), spread_last, now))
    return Verdict(wait_seconds=math.ceil(wait))


def _remaining(delay: float, last: datetime | None, now: datetime) -> float:
    if not delay or last is None:
        return 0.0
    return max(0.0, delay - (now - last).total_seconds())
