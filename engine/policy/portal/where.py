"""Which district an enterprise's unsigned request belongs to (issue 20): the portal is one for the whole city, and
before sign-in nothing says whose it is. Found across districts, then the request runs in that district's scope:

- signing in: by the contact's mobile or email (an active contact is of one enterprise, an enterprise of one
  district); the contact may name the district (the login page's 所在区县), which is then taken as it is, and must
  when the mobile or email is a contact's in several districts;
- registering: by the enterprise's 统一社会信用代码 in the districts' enterprise libraries;
- an invitation: by its token.

Where nothing is found, the home district answers as before, so no answer says whether an address has an account.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ValidationFailed
from engine.identity.districts import CITY_KIND
from engine.policy.portal.session import identify, keyed_hash
from engine.storage import district
from engine.storage.models import District, Enterprise, EnterpriseContact, EnterpriseInvitation

CHOOSE = "该手机号或邮箱是多个区县企业的联系人，请选择企业所在的区县"


def choices(session: Session) -> list[tuple[str, str]]:
    """(division code, name) of the districts enterprises sign in to: every active one but the city itself."""
    return [(code, name) for code, name in session.execute(
        select(District.code, District.name).where(District.active.is_(True), District.kind != CITY_KIND)
        .order_by(District.code))]


def by_code(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    found = session.scalar(select(District.id).where(District.code == code, District.active.is_(True),
                                                     District.kind != CITY_KIND))
    if found is None:
        raise ValidationFailed({"district": f"「所在区县」{code} 不是本系统的区县"})
    return found


def of_contact(session: Session, identifier: str, code: str | None = None) -> int:
    """The district to sign the contact in to (read across districts; ``session`` in the city-wide scope)."""
    chosen = by_code(session, code)
    if chosen is not None:
        return chosen
    named = identify(identifier)
    if named is None:
        return district.home()
    channel, address = named
    column = EnterpriseContact.mobile if channel == "sms" else EnterpriseContact.email
    found = set(session.scalars(select(EnterpriseContact.district_id).where(column == address,
                                                                            EnterpriseContact.active.is_(True))))
    if len(found) > 1:
        raise ValidationFailed({"district": CHOOSE})
    return found.pop() if found else district.home()


def of_enterprise(session: Session, uscc: str) -> int:
    found = session.scalar(select(Enterprise.district_id).where(Enterprise.uscc == (uscc or "").strip().upper()[:18])
                           .limit(1))
    return found if found is not None else district.home()


def of_invitation(session: Session, secret: str, token: str) -> int:
    found = session.scalar(select(EnterpriseInvitation.district_id).where(
        EnterpriseInvitation.token_hash == keyed_hash(secret, "invite", token)).limit(1))
    return found if found is not None else district.home()
