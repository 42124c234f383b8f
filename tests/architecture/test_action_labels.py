"""Every audit record an item's history shows has Chinese words: an ``AuditRecord(instance_id=…, action="…")``
written anywhere in the engine names an action that engine.queries.views labels (the history showed
``enterprise_applied`` and ``public_objection`` as they are, in English, before)."""
from __future__ import annotations

import re

from engine.queries.views import ACTION_LABELS
from tests.helpers import ROOT

CALL = re.compile(r"AuditRecord\(([^()]*(?:\([^()]*\)[^()]*)*)\)", re.S)
ACTION = re.compile(r'action="([a-z_0-9]+)"')


def item_actions(text: str) -> set[str]:
    """The literal actions of the audit records a piece of code writes against an item."""
    found = set()
    for call in CALL.finditer(text):
        body = call.group(1)
        action = ACTION.search(body)
        if action and "instance_id" in body and "instance_id=None" not in body:
            found.add(action.group(1))
    return found


def test_every_action_an_item_history_shows_is_labelled():
    unlabelled = {f"{path.relative_to(ROOT)}: {a}" for path in (ROOT / "engine").rglob("*.py")
                  for a in item_actions(path.read_text(encoding="utf-8")) if a not in ACTION_LABELS}
    assert not unlabelled, sorted(unlabelled)


def test_the_check_finds_an_unlabelled_action():
    code = 'session.add(AuditRecord(instance_id=instance.id, action="made_up_action", actor=who, at=now))\n' \
           'session.add(AuditRecord(instance_id=None, action="not_on_an_item", at=now))'
    assert item_actions(code) == {"made_up_action"}
