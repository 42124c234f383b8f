"""Identity as a service: signing in, who is asking, passwords, users and departments.

Each method is one transaction. Administration (users, departments) is for administrators, checked
here whatever the caller checked before, and audited in the transaction of the change.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.errors import PermissionDenied, TokenNotFound, UserNotFound
from engine.identity import accounts, org
from engine.identity.authz import Actor
from engine.storage import district
from engine.storage.models import AuditRecord

BEIJING = ZoneInfo("Asia/Shanghai")


def require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"只有系统管理员可以{what}")


class IdentityService:
    def __init__(self, db, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock

    # -- who is asking --------------------------------------------------------------------------
    def login(self, username: str, password: str, ip: str) -> Actor:
        """The actor for a right password; LoginRefused otherwise. The attempt is recorded either way."""
        with district.across():  # a user name is unique in the deployment; the account's district follows
            return accounts.login(self.db, username, password, ip, self.clock())

    def actor_by_token(self, token: str) -> Actor | None:
        """The holder of an API token, or None. A read on a plain connection; the token's "last used"
        moment is written at most every few minutes."""
        now = self.clock()
        with district.across():
            actor, stale = self.db.lookup(lambda conn: accounts.actor_by_token(conn, token, now))
        if actor is not None and stale is not None:  # on the lookup's own (city-wide) connections
            with district.across(), self.db.write() as session:
                accounts.touch_token(session, stale, now)
        return actor

    def actor_by_id(self, user_id: int, generation: int | None = None) -> Actor | None:
        """The actor of a session's user, or None when the user is gone or inactive or, given the
        session's ``generation``, when the user's sessions have been ended since it signed in."""
        with district.across(), self.db.read() as session:
            return accounts.actor_by_id(session, user_id, generation)

    def sign_out(self, actor: Actor) -> None:
        """Logout: this session and every other session of the user end (a copied cookie included)."""
        if actor.user_id is None:
            return
        with self.db.write() as session:
            accounts.end_sessions(session, actor.user_id)
            session.add(AuditRecord(action="signed_out", actor=actor.username, at=self.clock(),
                                    data={"user_id": actor.user_id}))

    def sign_out_everywhere(self, actor: Actor, user_id: int) -> None:
        """An administrator's 强制下线: every session of the user ends at its next request."""
        require_admin(actor, "强制用户下线")
        with self.db.write() as session:
            if session.get(accounts.User, user_id) is None:
                raise UserNotFound(user_id)
            accounts.end_sessions(session, user_id)
            session.add(AuditRecord(action="sessions_ended", actor=actor.username, at=self.clock(),
                                    data={"user_id": user_id}))

    def login_state(self, actor: Actor, user_id: int) -> dict:
        """For the administrator's user page: recent failed logins (since any 解除登录限制)."""
        require_admin(actor, "查看登录情况")
        with self.db.read() as session:
            failures, last = accounts.recent_failures(session, user_id, self.clock())
        return {"recent_failures": failures,
                "last_failure": last.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if last else None}

    def lift_login_limits(self, actor: Actor, user_id: int) -> None:
        """An administrator's 解除登录限制: the user's earlier failed logins no longer slow them down."""
        require_admin(actor, "解除登录限制")
        with self.db.write() as session:
            if session.get(accounts.User, user_id) is None:
                raise UserNotFound(user_id)
            accounts.lift_login_limits(session, user_id, self.clock())
            session.add(AuditRecord(action="login_limits_lifted", actor=actor.username, at=self.clock(),
                                    data={"user_id": user_id}))

    def tokens(self, actor: Actor, user_id: int) -> list[dict]:
        """The user's API tokens (name, issued, last used in Beijing time, revoked), for administrators."""
        require_admin(actor, "查看 API 令牌")
        with self.db.read() as session:
            if session.get(accounts.User, user_id) is None:
                raise UserNotFound(user_id)
            rows = accounts.tokens_of(session, user_id)
        for row in rows:
            for key in ("created_at", "last_used_at"):
                row[key] = row[key].astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if row[key] else None
        return rows

    def revoke_token(self, actor: Actor, user_id: int, token_id: int) -> None:
        """吊销令牌: scripts using it are refused (401) from their next call."""
        require_admin(actor, "吊销 API 令牌")
        with self.db.write() as session:
            if not accounts.revoke_token(session, user_id, token_id):
                raise TokenNotFound(token_id)
            session.add(AuditRecord(action="token_revoked", actor=actor.username, at=self.clock(),
                                    data={"user_id": user_id, "token_id": token_id}))

    def profile(self, actor: Actor) -> dict | None:
        """What the page header shows about the signed-in user."""
        if actor.user_id is None:
            return None
        with self.db.read() as session:
            return accounts.display_of(session, actor.user_id)

    def change_password(self, actor: Actor, old: str, new: str, confirm: str) -> Actor:
        """The actor's own password (ValidationFailed per field). Every session of the user ends;
        the returned actor (of the new session generation) keeps the caller's session going."""
        if actor.user_id is None:
            raise PermissionDenied("只有登录用户可以修改密码")
        with self.db.write() as session:
            accounts.change_password(session, actor.user_id, old, new, confirm)
            session.add(AuditRecord(action="password_changed", actor=actor.username, at=self.clock(),
                                    data={"user_id": actor.user_id}))
            session.flush()
            return accounts.actor_by_id(session, actor.user_id)

    # -- organisation ---------------------------------------------------------------------------
    def departments(self) -> list[org.DepartmentRow]:
        """Every department (name, short code, aliases, leading-group membership), in their order."""
        with self.db.read() as session:
            return org.departments_as_data(session)

    def department_names(self) -> list[str]:
        return [d["name"] for d in self.departments()]

    def department(self, actor: Actor, name: str) -> org.DepartmentRow | None:
        require_admin(actor, "管理部门")
        return next((d for d in self.departments() if d["name"] == name), None)

    def save_department(self, actor: Actor, values: dict, original: str | None = None) -> None:
        """Create a department (``original`` None) or change one; ValidationFailed per field."""
        require_admin(actor, "管理部门")
        with self.db.write() as session:
            org.save_department(session, values["name"], values["aliases"], values["leading_group_member"],
                                values.get("short_code"), original=original)
            session.add(AuditRecord(action="department_saved", actor=actor.username, at=self.clock(), data={
                "department": values["name"].strip(), "original": original,
                "aliases": [a.strip() for a in values["aliases"] if a and a.strip()],
                "leading_group_member": values["leading_group_member"]}))

    # -- users ----------------------------------------------------------------------------------
    def users(self, actor: Actor) -> list[dict]:
        require_admin(actor, "管理用户")
        with self.db.read() as session:
            return accounts.list_users(session)

    def search_users(self, actor: Actor, text: str = "", department: str = "", page: int = 1) -> dict:
        """One page of the users matching ``text`` (user name, Chinese name, mobile) and ``department``."""
        from engine.identity import user_search

        require_admin(actor, "管理用户")
        with self.db.read() as session:
            return user_search.search(session, text, department, page)

    def user(self, actor: Actor, user_id: int) -> dict | None:
        return next((u for u in self.users(actor) if u["id"] == user_id), None)

    def save_user(self, actor: Actor, values: dict, user_id: int | None = None) -> int:
        """Create (with a password) or update a user; ValidationFailed per field. Returns the user's id."""
        require_admin(actor, "管理用户")
        with self.db.write() as session:
            saved = accounts.save_user(session, actor, values, user_id)
            session.add(AuditRecord(action="user_created" if user_id is None else "user_changed", actor=actor.username,
                                    at=self.clock(), data={
                                        "user_id": saved, "username": values.get("username") if user_id is None else None,
                                        "department": values.get("department"), "roles": sorted(values.get("roles", [])),
                                        "active": bool(values.get("active", True)),
                                        "password_set": bool(values.get("password"))}))
            return saved
