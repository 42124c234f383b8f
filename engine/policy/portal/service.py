"""企业端 accounts as a service (``EnterpriseAccounts.of(services)``, stateless, as MeetingService.of): each
method one transaction, with its audit record and its outgoing messages. Staff calls take an actor (or a
user name); enterprise calls take the request's :class:`EnterpriseSession` or what the contact typed."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.config import Settings
from engine.identity.authz import Actor, actor_for
from engine.policy.portal import invitations, registration, signin, where
from engine.policy.portal.session import EnterpriseSession, PortalRefused
from engine.storage import district
from notifications.outbox import Notifier

DEVELOPMENT_SECRET = "zjtx-development-only"  # only when no key is configured (ZJTX_ENV=development)


class EnterpriseAccounts:
    def __init__(self, db, notifier: Notifier, clock: Callable[[], datetime], settings: Settings):
        self.db, self.notifier, self.clock, self.settings = db, notifier, clock, settings

    @classmethod
    def of(cls, services) -> EnterpriseAccounts:
        return cls(services.db, services.notifier, services.workflows.clock, services.settings)

    def _out(self) -> invitations.Outgoing:
        return invitations.Outgoing(now=self.clock(), notifier=self.notifier, base_url=self.settings.base_url,
                                    secret=self.settings.secret_key or DEVELOPMENT_SECRET)

    # -- staff: invitations ---------------------------------------------------------------------------
    def invite(self, actor: Actor | str, enterprise_id: int, raw: dict) -> dict:
        """The service officer invites a contact (``contact_name``, ``mobile`` and/or ``email``)."""
        with self.db.write() as session:
            return invitations.invite(session, self._out(), actor_for(session, actor), enterprise_id, raw)

    def summary(self, actor: Actor | str, enterprise_id: int) -> dict:
        """The 企业账号 panel of the staff enterprise page (status, contacts, open invitations, may manage)."""
        with self.db.read() as session:
            return registration.summary(session, actor_for(session, actor), enterprise_id, self.clock())

    def set_enabled(self, actor: Actor | str, enterprise_id: int, enabled: bool) -> dict:
        """停用 / 恢复 the enterprise's account (its service officer, the dispatcher, an admin); contacts are told."""
        with self.db.write() as session:
            return registration.set_enabled(session, self._out(), actor_for(session, actor), enterprise_id, enabled)

    # -- staff: registrations -----------------------------------------------------------------------------
    def pending(self, actor: Actor | str) -> list[dict]:
        """Registrations waiting for this service officer (or dispatcher, admin), oldest first."""
        with self.db.read() as session:
            return registration.pending(session, actor_for(session, actor))

    def pending_count(self, actor: Actor | str) -> int:
        with self.db.read() as session:
            return registration.pending_count(session, actor_for(session, actor))

    def confirm(self, actor: Actor | str, account_id: int) -> dict:
        with self.db.write() as session:
            return registration.decide(session, self._out(), actor_for(session, actor), account_id, True)

    def refuse(self, actor: Actor | str, account_id: int, reason: str) -> dict:
        with self.db.write() as session:
            return registration.decide(session, self._out(), actor_for(session, actor), account_id, False, reason)

    # -- the enterprise: registration, invitation, sign-in, password, sign-out --------------------------
    def register(self, raw: dict, ip: str) -> dict:
        """Self-registration (``uscc``, ``enterprise_name``, ``contact_name``, ``mobile``/``email``): pending
        until the service officer confirms; the officer is told. In the enterprise's district (by its USCC)."""
        with district.scope(self._where(where.of_enterprise, str(raw.get("uscc") or ""))), \
                self.db.write() as session:
            return registration.register(session, self._out(), raw, ip)

    def invitation(self, token: str) -> dict | None:
        with district.scope(self._where(where.of_invitation, self._out().secret, token)), \
                self.db.read() as session:
            return invitations.invitation(session, self._out().secret, token, self.clock())

    def accept(self, token: str) -> dict:
        """Accept an invitation: ``{"identifier": the mobile or email to sign in with, "account_id"}``."""
        with district.scope(self._where(where.of_invitation, self._out().secret, token)), \
                self.db.write() as session:
            return invitations.accept(session, self._out(), token)

    def districts(self) -> list[tuple[str, str]]:
        """(code, name) of the districts a contact may sign in to, for the login page's 所在区县 (several only)."""
        with district.across(), self.db.read() as session:
            return where.choices(session)

    def _where(self, find, *args) -> int:
        """The district an unsigned request is for (engine/policy/portal/where.py), read across districts."""
        with district.across(), self.db.read() as session:
            return find(session, *args)

    def request_code(self, identifier: str, ip: str, district_code: str | None = None) -> str:
        """Send a sign-in code; the answer (a Chinese sentence) does not say whether the contact exists."""
        with district.scope(self._where(where.of_contact, identifier, district_code)), self.db.write() as session:
            return signin.request_code(session, self._out(), identifier, ip)

    def sign_in_with_code(self, identifier: str, code: str, ip: str,
                          district_code: str | None = None) -> tuple[EnterpriseSession, str]:
        """The session and its stamp (kept in the cookie); PortalRefused otherwise, the try counted."""
        with district.scope(self._where(where.of_contact, identifier, district_code)), self.db.write() as session:
            signed, error = signin.check_code(session, self._out(), identifier, code, ip)
        if signed is None:
            raise PortalRefused(error or signin.WRONG_CODE)
        return signed

    def sign_in_with_password(self, identifier: str, password: str, ip: str,
                              district_code: str | None = None) -> tuple[EnterpriseSession, str]:
        with district.scope(self._where(where.of_contact, identifier, district_code)), self.db.write() as session:
            signed, error = signin.check_password(session, self._out(), identifier, password, ip)
        if signed is None:
            raise PortalRefused(error or "手机号/邮箱或密码错误")
        return signed

    def set_password(self, who: EnterpriseSession, old: str, new: str, confirm: str) -> str:
        """A new stamp for this session; every other session of the contact ends."""
        with self.db.write() as session:
            return signin.set_password(session, self.clock(), who, old, new, confirm)

    def session(self, contact_id: int, stamp: str) -> EnterpriseSession | None:
        with district.across(), self.db.read() as session:  # the session's enterprise names its district
            return signin.load(session, contact_id, stamp)

    def has_password(self, who: EnterpriseSession) -> bool:
        from engine.storage.models import EnterpriseContact

        with self.db.read() as session:
            contact = session.get(EnterpriseContact, who.contact_id)
            return bool(contact and contact.password_hash)

    def sign_out(self, who: EnterpriseSession) -> None:
        """Every session of this contact ends (a copied cookie included)."""
        with self.db.write() as session:
            signin.sign_out(session, self.clock(), who)
