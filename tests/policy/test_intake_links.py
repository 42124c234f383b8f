"""Intake and links (issue 17, point 7) through the service layer, on both databases: the new sources, the
registry enterprise found by name or credit code, an unknown enterprise added by those who may edit the
registry, the measures an item concerns (stored, changed by the dispatcher, in the problem ledger), and
another system's reference kept once."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from engine.errors import Conflict, PermissionDenied, ValidationFailed
from engine.identity.authz import actor_for
from engine.policy import ledgers
from engine.policy.dispatch.intake import EnterpriseNotFound
from engine.storage.models import Enterprise, EnterpriseChange, ItemLink, ItemMeasure, ProcessInstance
from tests.helpers import GOOD, RECORD, REGISTRATION, Item, liaison, uscc

NEW_CODE = uscc("91500114MA5U9NEW0")


def actor(zjtx, name):
    with zjtx.db.read() as session:
        return actor_for(session, name)


def registered(zjtx):
    """The enterprise GOOD in the registry (重庆黔江某精密制造有限公司, 工业)."""
    return zjtx.enterprises.save(actor(zjtx, "dispatcher"), dict(RECORD), years=[])


def register(zjtx, who="dispatcher", **kw):
    data = dict(REGISTRATION, **kw.pop("data", {}))
    return zjtx.intake.register(actor(zjtx, who), data, **kw)


def stored(zjtx, instance_id):
    with zjtx.db.read() as session:
        link = session.get(ItemLink, instance_id)
        nos = list(session.scalars(select(ItemMeasure.measure_no).where(ItemMeasure.instance_id == instance_id)
                                   .order_by(ItemMeasure.measure_no)))
        return (link.enterprise_id if link else None, link.external_source if link else None,
                link.external_ref if link else None, nos)


def instances(zjtx) -> int:
    with zjtx.db.read() as session:
        return session.scalar(select(func.count(ProcessInstance.id)))


@pytest.mark.parametrize("source", ["12345热线", "渝快办", "走访", "企业吹哨", "服务专员", "联席会议", "企业"])
def test_every_intake_source_is_accepted_new_and_old(zjtx, source):
    item = Item(zjtx, dict(REGISTRATION, source=source))
    assert item.data()["source"] == source


def test_an_unknown_source_is_refused_naming_the_field(zjtx):
    with pytest.raises(ValidationFailed) as refused:
        register(zjtx, data={"source": "微博"})
    assert "问题来源" in refused.value.errors["source"] and "12345热线" in refused.value.errors["source"]


def test_the_registry_is_searched_by_name_and_by_credit_code(zjtx):
    enterprise = registered(zjtx)
    dispatcher = actor(zjtx, "dispatcher")
    by_name = zjtx.intake.search(dispatcher, "精密制造")
    assert [e["id"] for e in by_name] == [enterprise] and by_name[0]["uscc"] == GOOD
    assert [e["id"] for e in zjtx.intake.search(dispatcher, GOOD.lower())] == [enterprise]
    assert [e["id"] for e in zjtx.intake.search(dispatcher, GOOD[:8])] == [enterprise]
    assert zjtx.intake.search(dispatcher, "%") == [] and zjtx.intake.search(dispatcher, "不存在的企业") == []
    assert zjtx.intake.search(dispatcher, " ") == []
    with pytest.raises(ValidationFailed) as refused:
        zjtx.intake.search(dispatcher, "企" * 51)
    assert "查询" in refused.value.errors["q"]
    # A department sees the industries it reviews only (工业 is 区经济信息委's).
    assert zjtx.intake.search(actor(zjtx, liaison("区商务委")), "精密制造") == []


def test_an_item_linked_by_its_id_takes_the_registry_name_and_code(zjtx):
    enterprise = registered(zjtx)
    started = register(zjtx, data={"enterprise_id": enterprise, "enterprise_name": "黔江精密"})
    assert started["enterprise_id"] == enterprise and stored(zjtx, started["id"])[0] == enterprise
    data = zjtx.queries.show(started["id"])["data"]
    assert data["enterprise_name"] == RECORD["name"] and data["enterprise_uscc"] == GOOD
    links = zjtx.intake.links(actor(zjtx, "dispatcher"), started["id"])
    assert links["enterprise"] == {"id": enterprise, "name": RECORD["name"], "uscc": GOOD, "can_view": True}


def test_a_typed_credit_code_or_the_exact_name_links_to_the_registry(zjtx):
    enterprise = registered(zjtx)
    assert register(zjtx, data={"enterprise_name": "别名", "enterprise_uscc": GOOD})["enterprise_id"] == enterprise
    assert register(zjtx, data={"enterprise_name": RECORD["name"]})["enterprise_id"] == enterprise
    assert register(zjtx)["enterprise_id"] == enterprise  # REGISTRATION names the same enterprise
    other = register(zjtx, data={"enterprise_name": "黔江某不在库企业"})
    assert other["enterprise_id"] is None and stored(zjtx, other["id"]) == (None, None, None, [])


def test_an_unknown_id_is_refused_and_nothing_is_registered(zjtx):
    before = instances(zjtx)
    with pytest.raises(EnterpriseNotFound) as refused:
        register(zjtx, data={"enterprise_id": 999})
    assert "企业库中的企业」999 不存在" in refused.value.message and instances(zjtx) == before


def test_an_unknown_enterprise_is_added_to_the_registry_with_the_item(zjtx):
    started = register(zjtx, add_enterprise=True,
                       data={"enterprise_name": "黔江某新登记企业", "enterprise_uscc": NEW_CODE.lower()})
    with zjtx.db.read() as session:
        added = session.scalar(select(Enterprise).where(Enterprise.uscc == NEW_CODE))
        change = session.scalar(select(EnterpriseChange).where(EnterpriseChange.enterprise_id == added.id))
        assert added.name == "黔江某新登记企业" and change.source == "intake" and change.actor == "dispatcher"
        assert change.changes["instance"] == [None, started["business_key"]]
    assert started["enterprise_id"] == added.id and stored(zjtx, started["id"])[0] == added.id
    # The next registration with the code links to it rather than adding it again.
    again = register(zjtx, add_enterprise=True, data={"enterprise_name": "另一写法", "enterprise_uscc": NEW_CODE})
    assert again["enterprise_id"] == added.id


def test_a_bad_credit_code_is_refused_in_chinese_and_nothing_is_written(zjtx):
    before = instances(zjtx)
    bad = NEW_CODE[:17] + ("0" if NEW_CODE[17] != "0" else "1")
    with pytest.raises(ValidationFailed) as refused:
        register(zjtx, add_enterprise=True, data={"enterprise_name": "黔江某新登记企业", "enterprise_uscc": bad})
    assert refused.value.errors["enterprise_uscc"].startswith("统一社会信用代码校验位错误")
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(Enterprise.id))) == 0
    assert instances(zjtx) == before


def test_adding_without_a_code_or_without_the_right_keeps_the_typed_name(zjtx):
    no_code = register(zjtx, add_enterprise=True, data={"enterprise_name": "黔江某无代码企业"})
    assert no_code["enterprise_id"] is None and "统一社会信用代码" in no_code["enterprise_note"]
    # A process designer may not edit the registry: allowed to start here only to show the rule.
    assert zjtx.intake._new_enterprise(actor(zjtx, "designer"), {"enterprise_name": "某企业",
                                                                 "enterprise_uscc": NEW_CODE})[0] is None
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(Enterprise.id))) == 0
    assert zjtx.queries.show(no_code["id"])["data"]["enterprise_name"] == "黔江某无代码企业"


def test_measures_are_stored_changed_by_the_dispatcher_and_in_the_ledger(zjtx):
    enterprise = registered(zjtx)
    started = register(zjtx, data={"measures": [11, 3]})
    assert started["measures"] == [3, 11] and stored(zjtx, started["id"])[3] == [3, 11]
    with pytest.raises(ValidationFailed) as refused:
        register(zjtx, data={"measures": [31]})
    assert refused.value.errors == {"measures[0]": "「涉及措施」不能大于 30"}  # the policy's 30 measures
    with pytest.raises(PermissionDenied):
        zjtx.intake.set_measures(actor(zjtx, "officer"), started["id"], [5])
    assert zjtx.intake.set_measures(actor(zjtx, "dispatcher"), started["id"], [5, 3]) == [3, 5]
    titles = [m["title"] for m in zjtx.intake.links(actor(zjtx, "dispatcher"), started["id"])["measures"]]
    assert len(titles) == 2 and stored(zjtx, started["id"])[3] == [3, 5]
    with zjtx.db.read() as session:
        book = ledgers.problem_ledger(session, zjtx.workflows.tz, None, None, None)
    rows = list(load_workbook(io.BytesIO(book)).active.iter_rows(values_only=True))
    assert rows[0][-2:] == ("关联企业（统一社会信用代码）", "涉及措施")
    row = next(r for r in rows[1:] if r[0] == started["business_key"])
    assert row[-2] == f"{RECORD['name']}（{GOOD}）" and row[-1] == f"3. {titles[0]}；5. {titles[1]}"
    assert enterprise == stored(zjtx, started["id"])[0]


def test_another_systems_reference_is_kept_once(zjtx):
    first = register(zjtx, external_source="12345", external_ref="GD-2026-0001", data={"source": "12345热线"})
    assert stored(zjtx, first["id"])[1:3] == ("12345", "GD-2026-0001")
    before = instances(zjtx)
    with pytest.raises(Conflict) as again:
        register(zjtx, external_source="12345", external_ref="GD-2026-0001", data={"source": "12345热线"})
    assert again.value.details == {"id": first["id"], "business_key": first["business_key"]}
    assert first["business_key"] in again.value.message and instances(zjtx) == before
    # The same number from another system is another work order.
    assert register(zjtx, external_source="渝快办", external_ref="GD-2026-0001")["id"] != first["id"]
    assert zjtx.intake.lookup(actor(zjtx, "dispatcher"), "12345", "GD-2026-0001")[0]["id"] == first["id"]
    assert zjtx.intake.lookup(actor(zjtx, liaison("区商务委")), "12345", "GD-2026-0001") == []  # not its item
    with pytest.raises(ValidationFailed) as half:
        register(zjtx, external_ref="GD-2")
    assert "来源系统" in half.value.errors["external_source"]


def test_a_reference_sent_twice_at_once_is_one_item(zjtx):
    """Both requests' checks pass before either writes: the unique constraint refuses the second write,
    which then answers like any repeat."""
    first = register(zjtx, external_source="12345", external_ref="GD-RACE")
    before, original, calls = instances(zjtx), zjtx.intake._check_new, []

    def raced(session, source, ref):
        calls.append(ref)
        if len(calls) > 1:  # after the refused write
            original(session, source, ref)
    zjtx.intake._check_new = raced
    try:
        with pytest.raises(Conflict) as again:
            register(zjtx, external_source="12345", external_ref="GD-RACE")
    finally:
        zjtx.intake._check_new = original
    assert len(calls) == 2 and again.value.details["id"] == first["id"] and instances(zjtx) == before
