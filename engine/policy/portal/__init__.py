"""企业端 (issue 19): the enterprises' own accounts, a sign-in realm apart from the staff's.

- :class:`EnterpriseSession` (session.py): who is signed in on an enterprise page (``g.enterprise``).
- :class:`EnterpriseAccounts` (service.py, ``EnterpriseAccounts.of(services)``): invitations by the service officer,
  self-registration the officer confirms, one-time codes and passwords, sessions; each change one transaction
  with its audit record (``AuditRecord`` with no instance, actions ``qiye_*``) and its outgoing messages.
"""
from engine.policy.portal.service import EnterpriseAccounts
from engine.policy.portal.session import EnterpriseSession, PortalRefused, TooFrequent

__all__ = ["EnterpriseAccounts", "EnterpriseSession", "PortalRefused", "TooFrequent"]
