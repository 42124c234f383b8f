"""The pages of the steps inside and between departments: the sign page offers the department's 承办人, the
head sees the draft it signs off, the lead sees every co-handler's part, the office sees the returns that
made the remit disputed; each decision is posted as the page does it, with its CSRF token."""
from __future__ import annotations

import re

import pytest
import time_machine

from tests.helpers import Item, at, head, liaison
from tests.web.test_task_pages import dispatched, matter_of, page_of, post

pytestmark = pytest.mark.sqlite_only
LEAD, CO = "区科技局", "区财政局"
HANDLER = "science_tech_bureau_handler"


def test_the_sign_page_offers_the_departments_handlers_and_assigns_one(zjtx, pages):
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        item = dispatched(zjtx)
        sign = item.task("sign", LEAD)
        html = page_of(pages(liaison(LEAD)), sign)
        select = re.search(r'<select name="handler">.*?</select>', html, re.S).group(0)
        assert f'<option value="{HANDLER}"' in select and "区科技局承办人" in select
        assert "finance_bureau_handler" not in select and liaison(LEAD) not in select  # only this unit's 承办人
        refused = post(pages(liaison(LEAD)), sign, {"sign_decision": "sign", "handler": "finance_bureau_handler"})
        assert refused.status_code == 400 and "不是本部门在职的承办人" in refused.get_data(as_text=True)
        done = post(pages(liaison(LEAD)), sign, {"sign_decision": "sign", "handler": HANDLER})
        assert done.status_code == 302
        handle = item.task("handle", LEAD)
        html = page_of(pages(HANDLER), handle)
        assert 'name="handle_action"' in html  # the 承办人 acts on it from their own inbox
        assert f"/tasks/{handle['id']}" in pages(HANDLER).get("/").get_data(as_text=True)


def test_the_head_sees_the_draft_and_the_lead_sees_every_part(zjtx, pages):
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        item = dispatched(zjtx)
        item.sign(LEAD)
        item.sign(CO)
        item.answer(CO, "财政局：安排专项资金50万元", sign_off=False)
        item.answer(LEAD, "科技局：已协调规划指标", sign_off=False)  # drafted later, in another unit
        sign_off = item.task("head_review_slot", CO)
        card = matter_of(page_of(pages(head(CO)), sign_off))
        assert "待报出的答复" in card and "财政局：安排专项资金50万元" in card and "协办意见" in card
        assert f"{CO}联络员" in card and f"{LEAD}联络员" not in card  # the drafter is the head's own unit's
        assert post(pages(head(CO)), sign_off, {"head_decision": "approve"}).status_code == 302
        item.sign_off(LEAD)
        consolidate = item.task("consolidate", LEAD)
        html = page_of(pages(liaison(LEAD)), consolidate)
        card = matter_of(html)
        assert "各协办单位意见" in card and "财政局：安排专项资金50万元" in card and "科技局：已协调规划指标" in card
        assert re.search(r'name="part_department"[^>]*value="区财政局"', html)  # the co-handlers only
        assert 'value="区商务委"' not in html


def test_the_office_sees_why_the_remit_is_disputed(zjtx, pages):
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        item = Item(zjtx)
        item.accept()
        item.dispatch("区商务委")
        item.do("sign", {"sign_decision": "return", "return_reason": "属市场监管职责"}, liaison("区商务委"), "区商务委")
        redispatch = item.task("redispatch")
        html = page_of(pages("dispatcher"), redispatch)
        assert 'value="request_ruling"' in html and "提请领导小组办公室审定" in html
        post(pages("dispatcher"), redispatch, {"redispatch_action": "request_ruling",
                                               "ruling_request_reason": "两单位职责交叉"})
        ruling = item.task("remit_ruling")
        card = matter_of(page_of(pages("office"), ruling))
        assert "退回记录" in card and "属市场监管职责" in card and "两单位职责交叉" in card
