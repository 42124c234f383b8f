"""Cultivation-pool admission through every path, including an objection during the public notice."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from engine.errors import ValidationFailed
from engine.identity.authz import actor_for
from engine.identity.org import get_user
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import InboxMessage
from tests.helpers import GOOD, RECORD, YEARS, apply, register

# Eligibility reads last year's figures (YEARS end with 2025): the clock is pinned in November 2026.
pytestmark = [pytest.mark.sqlite_only, pytest.mark.usefixtures("clock")]
BJ = ZoneInfo("Asia/Shanghai")
COMMERCE = "区商务委"


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def open_task(zjtx, instance_id, bpmn_id):
    [task] = [t for t in zjtx.queries.tasks(instance_id=instance_id) if t["task"] == bpmn_id]
    return task


def officer_inbox(zjtx) -> list[str]:
    with zjtx.db.read() as session:
        officer = get_user(session, "officer")
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == officer.id)))


def through_reviews(zjtx, instance_id):
    review = open_task(zjtx, instance_id, "industry_review")
    assert review["department"] == COMMERCE  # 批发业 is reviewed by 区商务委
    zjtx.workflows.complete(review["id"], {"review_approved": True}, "commerce_commission_liaison")
    zjtx.workflows.complete(open_task(zjtx, instance_id, "commission_review")["id"], {"review_approved": True},
                            "dispatcher")


def test_an_eligible_enterprise_is_admitted_after_five_working_days_of_notice(zjtx):
    register(zjtx)
    with time_machine.travel(at("2026-09-28 10:00"), tick=False) as clock:
        started = apply(zjtx)
        through_reviews(zjtx, started["id"])
        assert zjtx.queries.show(started["id"])["item_status"] == "公示中"
        notice = open_task(zjtx, started["id"], "public_notice")
        assert notice["department"] == "区经济信息委"
        # 5 working days from 09-28: 09-29, 09-30, (National Day), 10-08, 10-09, 10-10 (make-up Saturday).
        clock.move_to(at("2026-10-10 23:59:00"))
        Scheduler(zjtx).run_until_idle()
        assert zjtx.queries.show(started["id"])["status"] == "running"
        clock.move_to(at("2026-10-11 00:00:01"))
        Scheduler(zjtx).run_until_idle()
    shown = zjtx.queries.show(started["id"])
    assert (shown["status"], shown["item_status"]) == ("completed", "已入库")
    [enterprise] = zjtx.enterprises.list(actor_for_admin(zjtx))[0]
    assert enterprise["in_pool"] is True and str(enterprise["pool_valid_until"]) == "2029-10-10"
    assert any(t.startswith("【培育入库】") and "已入库" in t for t in officer_inbox(zjtx))
    history = zjtx.enterprises.get(enterprise["id"])["history"]
    assert history[0]["source"] == "admission" and history[0]["changes"]["in_pool"] == [False, True]


def actor_for_admin(zjtx):
    with zjtx.db.read() as session:
        return actor_for(session, "admin")


def test_an_ineligible_enterprise_is_returned_with_the_explanation(zjtx):
    register(zjtx, years=[{**YEARS[2], "year": 2025, "rd_expense": 100_000}, YEARS[0], YEARS[1]])
    started = apply(zjtx)
    shown = zjtx.queries.show(started["id"])
    assert (shown["status"], shown["item_status"]) == ("completed", "不符合培育条件")
    assert any("研发投入占营业收入比重" in r and "不符合" in r for r in shown["data"]["admission_reasons"])
    assert any("不符合培育条件" in t for t in officer_inbox(zjtx))


def test_missing_figures_go_back_to_the_service_officer_first(zjtx):
    enterprise_id = register(zjtx, years=YEARS[:2])  # last year's figures are missing
    started = apply(zjtx)
    task = open_task(zjtx, started["id"], "complete_data")
    assert started["item_status"] == "资格审查"
    with pytest.raises(ValidationFailed):
        zjtx.workflows.complete(task["id"], {"data_completed": False}, "officer")
    with zjtx.db.read() as session:
        officer = actor_for(session, "officer")
    zjtx.enterprises.save(officer, {**RECORD, "industry": "批发业", "tier": "无", "tier_since": None},
                          years=[YEARS[2]], enterprise_id=enterprise_id)
    zjtx.workflows.complete(task["id"], {"data_completed": True}, "officer")
    assert open_task(zjtx, started["id"], "industry_review")["department"] == COMMERCE


@pytest.mark.parametrize(("step", "user"), [("industry_review", "commerce_commission_liaison"),
                                            ("commission_review", "dispatcher")])
def test_a_reviewer_can_refuse_with_reasons(zjtx, step, user):
    register(zjtx)
    started = apply(zjtx)
    if step == "commission_review":
        zjtx.workflows.complete(open_task(zjtx, started["id"], "industry_review")["id"], {"review_approved": True},
                                "commerce_commission_liaison")
    task = open_task(zjtx, started["id"], step)
    with pytest.raises(ValidationFailed):  # a refusal needs its reason
        zjtx.workflows.complete(task["id"], {"review_approved": False}, user)
    zjtx.workflows.complete(task["id"], {"review_approved": False, "review_opinion": "主导产品不属于重点支持领域"}, user)
    shown = zjtx.queries.show(started["id"])
    assert shown["item_status"] == "不予入库" and shown["data"]["admission_reasons"] == ["主导产品不属于重点支持领域"]
    assert zjtx.enterprises.list(actor_for_admin(zjtx))[0][0]["in_pool"] is False


def test_an_objection_during_the_notice_is_resolved_before_admission(zjtx):
    register(zjtx)
    with time_machine.travel(at("2026-11-02 10:00"), tick=False) as clock:
        started = apply(zjtx)
        through_reviews(zjtx, started["id"])
        clock.move_to(at("2026-11-04 15:00"))
        notice = open_task(zjtx, started["id"], "public_notice")
        zjtx.workflows.complete(notice["id"], {"objection": "某企业反映该企业研发投入数据不实"}, "dispatcher")
        decision = open_task(zjtx, started["id"], "resolve_objection")
        assert decision["roles"] == ["leading_group_office"]
        clock.move_to(at("2026-11-06 10:00"))
        zjtx.workflows.complete(decision["id"], {"objection_upheld": False,
                                                 "objection_resolution": "经核查审计报告，数据属实"}, "office")
        assert open_task(zjtx, started["id"], "public_notice")  # the notice goes on to its end
        clock.move_to(at("2026-11-09 23:59:58"))  # 5 working days from 11-02 end on 11-09
        Scheduler(zjtx).run_until_idle()
        assert zjtx.queries.show(started["id"])["status"] == "running"
        clock.move_to(at("2026-11-10 00:00:01"))
        Scheduler(zjtx).run_until_idle()
    assert zjtx.queries.show(started["id"])["item_status"] == "已入库"


def test_an_upheld_objection_stops_the_admission(zjtx):
    register(zjtx)
    started = apply(zjtx)
    through_reviews(zjtx, started["id"])
    zjtx.workflows.complete(open_task(zjtx, started["id"], "public_notice")["id"],
                            {"objection": "该企业上年度发生重大安全生产事故"}, "dispatcher")
    zjtx.workflows.complete(open_task(zjtx, started["id"], "resolve_objection")["id"],
                            {"objection_upheld": True, "objection_resolution": "异议属实，不予入库"}, "office")
    shown = zjtx.queries.show(started["id"])
    assert shown["item_status"] == "不予入库" and shown["data"]["admission_reasons"] == ["异议属实，不予入库"]


def test_an_unknown_enterprise_cannot_apply(zjtx):
    with pytest.raises(ValidationFailed) as caught:
        apply(zjtx)
    assert "不在企业库中" in caught.value.errors["enterprise_uscc"]


def admit_directly(zjtx):
    """Put the registered enterprise in the pool as an admission would."""
    from engine.storage.models import Enterprise

    with zjtx.db.write() as session:
        enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == GOOD))
        enterprise.in_pool = True


@pytest.mark.slow
def test_the_yearly_data_update_goes_to_every_pool_enterprise_by_30_april(zjtx):
    register(zjtx)
    admit_directly(zjtx)
    scheduler = Scheduler(zjtx)
    with time_machine.travel(at("2027-02-27 10:00"), tick=False) as clock:
        zjtx.deploy_bundled()  # the default schedule: 1 March, 09:00
        clock.move_to(at("2027-03-01 09:00:01"))
        assert scheduler.run_until_idle()["schedules"] >= 1  # the monthly circular may fall due too
        [task] = [t for t in zjtx.queries.tasks() if t["task"] == "update_data"]
        assert task["due_at"] == at("2027-04-30 23:59:59").astimezone(ZoneInfo("UTC")).isoformat()
        zjtx.workflows.complete(task["id"], {"data_updated": True}, "officer")
        assert zjtx.queries.show(task["instance_id"])["item_status"] == "已更新"


@pytest.mark.slow
def test_missing_the_yearly_update_leads_to_a_removal_review(zjtx):
    register(zjtx)
    admit_directly(zjtx)
    with time_machine.travel(at("2027-03-01 10:00"), tick=False) as clock:
        started = zjtx.workflows.start("pool_data_update", {"enterprise_uscc": GOOD, "update_year": 2027},
                                       actor="dispatcher")
        clock.move_to(at("2027-05-01 00:00:01"))
        Scheduler(zjtx).run_until_idle()
        review = open_task(zjtx, started["id"], "removal_review")
        assert zjtx.queries.show(started["id"])["item_status"] == "逾期未更新，待移出审查"
        zjtx.workflows.complete(review["id"], {"remove_from_pool": True,
                                               "removal_reason": "逾期未更新2026年度数据，经催告仍未报送"}, "dispatcher")
    enterprise = zjtx.enterprises.list(actor_for_admin(zjtx))[0][0]
    assert enterprise["in_pool"] is False
    assert zjtx.enterprises.get(enterprise["id"])["history"][0]["source"] == "removal"
    assert any("已移出培育库" in t for t in officer_inbox(zjtx))
