"""Accounts: logging in (with limits on guessing, engine/identity/throttle.py), passwords, session
generations, API tokens, user administration."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from engine.errors import EngineError, PermissionDenied, ValidationFailed
from engine.identity import throttle
from engine.identity.authz import Actor
from engine.identity.org import ROLES, DepartmentDirectory, create_user, verify_password
from engine.storage.models import ApiToken, LoginAttempt, User, UserRole

MIN_PASSWORD = 8


class LoginRefused(EngineError):
    code = "login_refused"


def _actor(user: User) -> Actor:
    return Actor(username=user.username, user_id=user.id, department_id=user.department_id,
                 roles=frozenset(user.role_names), session_generation=user.session_generation,
                 district_id=user.district_id)


def login(db, username: str, password: str, ip: str, now: datetime) -> Actor:
    """A login in its own transaction: the attempt is recorded whether it succeeds or not."""
    with db.write() as session:
        actor, error = check_login(session, username, password, ip, now)
    if error:
        raise LoginRefused(error)
    return actor


def normalise_mobile(text: str) -> str | None:
    """A mainland mobile number as stored (11 digits from 1), or None when ``text`` is not one:
    spaces, hyphens and a +86 prefix are dropped."""
    digits = "".join(ch for ch in text if ch not in " -")
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits if len(digits) == 11 and digits.isascii() and digits.isdigit() and digits[0] == "1" else None


def find_account(session: Session, identifier: str) -> tuple[User | None, str]:
    """The account an identifier names: a user name (any case), a mobile number or a Chinese name
    (display_name), in that order; and the key its attempts are counted under (the account's user name,
    so switching identifiers does not escape the limits; else the identifier). ``AMBIGUOUS`` as the key:
    the Chinese name is shared."""
    text = identifier.strip()[:64]
    user = session.scalar(select(User).where(func.lower(User.username) == text.lower()))
    mobile = normalise_mobile(text) if user is None else None
    if mobile is not None:
        user = session.scalar(select(User).where(User.mobile == mobile))
    if user is None and text:
        named = list(session.scalars(select(User).where(User.display_name == text).limit(2)))
        if len(named) > 1:
            return None, AMBIGUOUS
        user = named[0] if named else None
    return user, (user.username if user is not None else text.lower())


AMBIGUOUS = "\x00ambiguous"


def check_login(session: Session, identifier: str, password: str, ip: str, now: datetime
                ) -> tuple[Actor | None, str | None]:
    """A right password signs in unless the (account, address) must still wait (throttle.py); the same
    work, and the same answer, whether the account exists or not. The account is named by its user
    name, mobile number or Chinese name (:func:`find_account`)."""
    ip = ip[:64]
    user, key = find_account(session, identifier)
    if key == AMBIGUOUS:  # the same work as a password check, and nothing recorded against anyone
        throttle.dummy_check(password)
        return None, "有多位用户使用这个姓名，请改用用户名或手机号登录"
    wait = throttle.verdict(session, key, ip, user, now)
    if wait.wait_seconds:
        return None, wait.message
    if user is not None and user.active:
        ok = verify_password(user, password)
    else:
        throttle.dummy_check(password)
        ok = False
    session.add(LoginAttempt(username=key, ip=ip, at=now, success=ok))
    if not ok:
        return None, "用户名或密码错误"
    return _actor(user), None


def end_sessions(session: Session, user_id: int) -> None:
    """Every session of the user signed in before now ends at its next request."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_generation = (user.session_generation or 0) + 1


def recent_failures(session: Session, user_id: int, now: datetime) -> tuple[int, datetime | None]:
    user = session.get(User, user_id)
    if user is None:
        return 0, None
    since = max(now - throttle.WINDOW, user.login_reset_at or now - throttle.WINDOW)
    return throttle.failures(session, since, LoginAttempt.username == user.username)


def lift_login_limits(session: Session, user_id: int, now: datetime) -> None:
    session.get(User, user_id).login_reset_at = now


def change_password(session: Session, user_id: int, old: str, new: str, confirm: str) -> None:
    user = session.get(User, user_id)
    errors = {}
    if not verify_password(user, old):
        errors["old_password"] = "原密码不正确"
    if len(new) < MIN_PASSWORD:
        errors["new_password"] = f"新密码至少 {MIN_PASSWORD} 位"
    elif new == old:
        errors["new_password"] = "新密码不能与原密码相同"
    if new != confirm:
        errors["confirm_password"] = "两次输入的新密码不一致"
    if errors:
        raise ValidationFailed(errors)
    user.password_hash = generate_password_hash(new)
    user.session_generation = (user.session_generation or 0) + 1


def actor_by_id(session: Session, user_id: int, generation: int | None = None) -> Actor | None:
    """The user's actor; None when the user is gone or inactive or, given a session's ``generation``,
    when that session has been ended since it signed in."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    if generation is not None and generation != user.session_generation:
        return None
    return _actor(user)


def issue_token(session: Session, user_id: int, name: str) -> str:
    """A new API token; the plain value is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user_id, name=name[:100],
                         token_hash=hashlib.sha256(token.encode()).hexdigest()))
    return token


def tokens_of(session: Session, user_id: int) -> list[dict]:
    """The user's API tokens, newest first: never the value (only its hash is stored)."""
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc()))
    return [{"id": t.id, "name": t.name, "created_at": t.created_at, "last_used_at": t.last_used_at,
             "revoked": t.revoked} for t in rows]


def revoke_token(session: Session, user_id: int, token_id: int) -> bool:
    """Revoke one of the user's tokens: the next call with it is 401. False when it is not the user's."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        return False
    row.revoked = True
    return True


TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)

# One query: the token, its user and the user's roles (one row per role). Built once: on every API
# call, constructing the statement would cost ten times as much as running it.
_TOKEN_QUERY = (
    select(ApiToken.id, ApiToken.last_used_at, User.id, User.username, User.department_id, User.district_id,
           UserRole.role)
    .join(User, ApiToken.user_id == User.id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked.is_(False), User.active.is_(True)))


def actor_by_token(session: Session | Connection, token: str, now: datetime) -> tuple[Actor | None, int | None]:
    """The actor holding ``token``, and the token's id when its "last used" moment is due to be
    refreshed (at most every five minutes, so that API calls stay read-only)."""
    rows = session.execute(_TOKEN_QUERY, {"token_hash": hashlib.sha256(token.encode()).hexdigest()}).all()
    if not rows:
        return None, None
    token_id, last_used, user_id, username, department_id, district_id, _ = rows[0]
    actor = Actor(username=username, user_id=user_id, department_id=department_id,
                  roles=frozenset(r[6] for r in rows if r[6] is not None), district_id=district_id)
    stale = last_used is None or now - last_used >= TOKEN_TOUCH_INTERVAL
    return actor, (token_id if stale else None)


def touch_token(session: Session, token_id: int, now: datetime) -> None:
    row = session.get(ApiToken, token_id)
    if row is not None:
        row.last_used_at = now


def list_users(session: Session) -> list[dict]:
    directory = DepartmentDirectory.of(session)
    return [{"id": u.id, "username": u.username, "display_name": u.display_name, "email": u.email, "mobile": u.mobile,
             "wecom_userid": u.wecom_userid,
             "department": directory.name_of(u.department_id), "roles": sorted(u.role_names), "active": u.active}
            for u in session.scalars(select(User).order_by(User.department_id, User.username))]


def save_user(session: Session, admin: Actor, data: dict, user_id: int | None = None) -> int:
    """Create (with a password) or update a user. Field errors are Chinese and per field."""
    if not admin.is_admin:
        raise PermissionDenied("只有系统管理员可以管理用户")
    errors = {}
    directory = DepartmentDirectory.of(session)
    roles = [r for r in data.get("roles", []) if r]
    if not roles:
        errors["roles"] = "至少选择一个角色"
    elif set(roles) - set(ROLES):
        errors["roles"] = "含未知角色"
    if not (data.get("display_name") or "").strip():
        errors["display_name"] = "「姓名」为必填项"
    if directory.find(data.get("department") or "") is None:
        errors["department"] = "请选择部门"
    if user_id is None:
        username = (data.get("username") or "").strip()
        if not username or not username.replace("_", "").isalnum() or not username.isascii():
            errors["username"] = "用户名只能由字母、数字和下划线组成"
        elif session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
            errors["username"] = f"用户名「{username}」已存在（用户名不区分大小写）"
        if len(data.get("password") or "") < MIN_PASSWORD:
            errors["password"] = f"初始密码至少 {MIN_PASSWORD} 位"
    mobile = _mobile_field(session, data.get("mobile"), user_id, errors)
    wecom = _wecom_field(data.get("wecom_userid"), errors)
    if errors:
        raise ValidationFailed(errors)
    if user_id is None:
        user = create_user(session, data["username"].strip(), data["display_name"].strip(), data["department"],
                           roles, data["password"], email=(data.get("email") or None), mobile=mobile)
        user.wecom_userid = wecom
        return user.id
    user = session.get(User, user_id)
    if user is None:
        raise ValidationFailed({"user": "用户不存在"})
    user.display_name = data["display_name"].strip()
    user.email = data.get("email") or None
    if "mobile" in data:
        user.mobile = mobile
    if "wecom_userid" in data:
        user.wecom_userid = wecom
    user.department_id = directory.get(data["department"]).id
    if user.active and not data.get("active", True):
        user.session_generation = (user.session_generation or 0) + 1
    user.active = bool(data.get("active", True))
    # Change only what changed: dropping and re-adding a role would re-insert the same key.
    keep = [r for r in user.roles if r.role in roles]
    user.roles = keep + [UserRole(role=r) for r in roles if r not in {k.role for k in keep}]
    if data.get("password"):
        if len(data["password"]) < MIN_PASSWORD:
            raise ValidationFailed({"password": f"新密码至少 {MIN_PASSWORD} 位"})
        user.password_hash = generate_password_hash(data["password"])
        user.session_generation = (user.session_generation or 0) + 1  # a reset password ends the sessions
    return user.id


WECOM_USERID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_\-@.]{0,63}")


def _wecom_field(raw, errors: dict) -> str | None:
    """The 「企业微信账号」 of the user form: empty, or a WeCom UserID (1–64 letters, digits and _-@.,
    starting with a letter or digit, as WeCom allows)."""
    text = str(raw or "").strip()
    if text and not WECOM_USERID.fullmatch(text):
        errors["wecom_userid"] = ("「企业微信账号」应为企业微信管理后台中成员的账号（UserID）：1 至 64 个字母、数字或 _-@.，"
                                  "以字母或数字开头")
    return text or None


def _mobile_field(session: Session, raw, user_id: int | None, errors: dict) -> str | None:
    """The 「手机号」 of the user form: empty, or 11 digits from 1 that no other user has."""
    text = str(raw or "").strip()
    if not text:
        return None
    mobile = normalise_mobile(text)
    if mobile is None:
        errors["mobile"] = "「手机号」应为 11 位数字，以 1 开头，如 13800000000"
        return None
    other = session.scalar(select(User).where(User.mobile == mobile))
    if other is not None and other.id != user_id:
        errors["mobile"] = f"手机号 {mobile} 已是用户「{other.display_name}（{other.username}）」的手机号"
    return mobile


def display_of(session: Session, user_id: int) -> dict:
    """What the page header shows about the signed-in user."""
    user = session.get(User, user_id)
    return {"username": user.username, "display_name": user.display_name, "department": user.department.name,
            "roles": [ROLES[r] for r in sorted(user.role_names)]}


def provide_admin(session: Session, username: str, display_name: str, email: str | None,
                  reset: bool) -> tuple[str, bool]:
    """An administrator for a fresh installation, or a new password for one who forgot it (``reset``):
    returns (a random password to show once, whether the user was created). An existing user is only
    changed with ``reset``: made active and administrator, its sessions ended."""
    from engine.identity.org import DISPATCHER_DEPARTMENT

    password = secrets.token_urlsafe(12)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        if not username or not username.replace("_", "").isalnum() or not username.isascii():
            raise ValidationFailed({"username": "用户名只能由字母、数字和下划线组成"})
        create_user(session, username, display_name, DISPATCHER_DEPARTMENT, ["admin"], password, email=email)
        return password, True
    if not reset:
        raise ValidationFailed({"username": f"用户「{username}」已存在；要为其重设密码并设为管理员，请加 --reset-password"})
    user.password_hash = generate_password_hash(password)
    user.active = True
    user.session_generation = (user.session_generation or 0) + 1
    if "admin" not in user.role_names:
        user.roles.append(UserRole(role="admin"))
    return password, False

