"""市区联动 (issue 20): a district escalates an item to the city, which accepts and dispatches it to a city
department or declines it back; the district's item shows the city's answer; asking twice makes one city item."""
from __future__ import annotations

from datetime import date

import pytest

from engine.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from engine.identity.accounts import actor_by_id
from engine.identity.org import get_user
from engine.storage import district
from tests.helpers import REGISTRATION, Browser, Item, liaison

LEAD = "区科技局"
REASON = "涉及市级审批权限，需市科技局协调"
PERIOD = (date(2026, 11, 1), date(2026, 11, 30))  # the clock fixture's month


def _actor(zjtx, district_id: int, username: str):
    with district.scope(district_id), zjtx.db.read() as session:
        return actor_by_id(session, get_user(session, username).id)


@pytest.fixture
def linked(zjtx, clock):
    """重庆市 (cq_ accounts, units 市…) and a 黔江区 item accepted and dispatched."""
    city = zjtx.create_district("500000", "重庆市", demo_prefix="cq_")
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD)
    return city, item


def _city_task(zjtx, city: int, step: str) -> dict:
    with district.scope(city):
        return next(t for t in zjtx.queries.tasks() if t["task"] == step)


def test_the_city_accepts_dispatches_and_answers_and_the_district_sees_it(zjtx, linked):
    city, item = linked
    dispatcher = _actor(zjtx, district.FIRST_DISTRICT, "dispatcher")
    asked = zjtx.city_links.escalate(dispatcher, item.id, REASON)
    assert asked["reference"] == f"500114-{item.key}"
    with pytest.raises(Conflict) as again:
        zjtx.city_links.escalate(dispatcher, item.id, REASON)
    assert asked["city_key"] in again.value.message
    status = zjtx.city_links.status(item.id)
    assert status["city_key"] == asked["city_key"] and not status["done"] and status["reason"] == REASON
    assert "escalated_to_city" in [h["action"] for h in item.show()["history"]]
    with district.scope(city):
        triage = _city_task(zjtx, city, "triage")
        shown = zjtx.queries.show(triage["instance_id"])
        assert shown["data"]["source"] == "区县提请" and "【黔江区提请市级协调】" in shown["data"]["description"]
        zjtx.workflows.complete(triage["id"], {"triage_decision": "accept"}, "cq_dispatcher")
        dispatch = _city_task(zjtx, city, "dispatch")
        zjtx.workflows.complete(dispatch["id"], {"lead_department": "市科技局", "lead_due_working_days": 10,
                                                 "co_handlers": []}, "cq_dispatcher")
        sign = _city_task(zjtx, city, "sign")
        assert sign["department"] == "市科技局"
    assert zjtx.city.overview(_actor(zjtx, city, "cq_office"), *PERIOD)["districts"][0]["escalated_open"] == 1
    assert item.task("sign", LEAD)  # the district's item goes on as it was


def _asked_and_declined(zjtx, city: int, item) -> None:
    """黔江区's office asks the city, whose 交办员 declines it back with a reason."""
    zjtx.city_links.escalate(_actor(zjtx, district.FIRST_DISTRICT, "office"), item.id, REASON)
    with district.scope(city):
        triage = _city_task(zjtx, city, "triage")
        zjtx.workflows.complete(triage["id"], {"triage_decision": "reject",
                                               "triage_reason": "属区级事权，请黔江区自行协调办理"}, "cq_dispatcher")


def test_the_city_declines_it_back_with_its_reason(zjtx, linked):
    city, item = linked
    _asked_and_declined(zjtx, city, item)
    status = zjtx.city_links.status(item.id)
    assert status["done"] and status["answer"] == "属区级事权，请黔江区自行协调办理"


def test_the_citys_answer_reaches_the_district_that_asked_at_once(zjtx, linked):
    """In the transaction that ends the city's item: the district's item's history gets the answer, and its 交办员
    and whoever asked (here the office) get a notice linking to their own item — in their district, not the city's."""
    from sqlalchemy import select

    from engine.storage.models import InboxMessage, OutboxMessage, User

    city, item = linked
    _asked_and_declined(zjtx, city, item)
    history = {h["action"]: h for h in item.show()["history"]}
    assert history["city_answered"]["data"]["answer"] == "属区级事权，请黔江区自行协调办理"
    with zjtx.db.read() as session:
        told = {name: (link, body) for name, link, body in session.execute(
            select(User.username, InboxMessage.link, InboxMessage.body).join(User, User.id == InboxMessage.user_id)
            .where(InboxMessage.title.contains("市级协调已有结果")))}
        assert set(told) == {"dispatcher", "office"}
        assert all(link.endswith(f"/items/{item.id}") for link, _ in told.values())
        assert all("属区级事权" in body and "黔江区“专精特新”" in body for _, body in told.values())
        queued = session.scalars(select(OutboxMessage.channel).where(OutboxMessage.subject.contains("市级协调"))).all()
        assert set(queued) <= {"email", "webhook", "wecom", "sms"}
    with district.scope(city), zjtx.db.read() as session:  # nothing of it in the city's own inbox
        assert session.scalar(select(InboxMessage.id).where(InboxMessage.title.contains("市级协调已有结果"))) is None


def test_escalating_is_checked_and_kept_in_its_district(zjtx, linked):
    city, item = linked
    with pytest.raises(ValidationFailed) as short:
        zjtx.city_links.escalate(_actor(zjtx, district.FIRST_DISTRICT, "dispatcher"), item.id, "急")
    assert "提请理由" in short.value.errors["reason"]
    with pytest.raises(PermissionDenied):
        zjtx.city_links.escalate(_actor(zjtx, district.FIRST_DISTRICT, liaison(LEAD)), item.id, REASON)
    county = zjtx.create_district("500243", "彭水县", demo_prefix="ps_")
    with district.scope(county), pytest.raises(NotFound):  # another district cannot escalate 黔江区's item by its id
        zjtx.city_links.escalate(_actor(zjtx, county, "ps_dispatcher"), item.id, REASON)
    assert zjtx.city_links.status(item.id) is None
    with district.scope(city), pytest.raises(ValidationFailed):  # nor the city to itself
        other = zjtx.workflows.start("problem_dispatch", dict(REGISTRATION), actor="cq_dispatcher")
        zjtx.city_links.escalate(_actor(zjtx, city, "cq_dispatcher"), other["id"], REASON)


def test_the_item_page_asks_and_then_shows_the_city_item(zjtx, linked):
    from web import create_app

    _, item = linked
    app = create_app(services=zjtx, config={"TESTING": True})
    dispatcher = Browser.signed_in(app, "dispatcher")
    page = dispatcher.get(f"/items/{item.id}").get_data(as_text=True)
    assert "提请市级协调" in page and 'name="reason"' in page
    assert dispatcher.post(f"/items/{item.id}/city", {"reason": "短"}).status_code == 302
    assert "「提请理由」" in dispatcher.get(f"/items/{item.id}").get_data(as_text=True)
    dispatcher.post(f"/items/{item.id}/city", {"reason": REASON})
    page = dispatcher.get(f"/items/{item.id}").get_data(as_text=True)
    assert "市级事项" in page and REASON in page and 'name="reason"' not in page
    liaison_page = Browser.signed_in(app, liaison(LEAD))
    assert liaison_page.post(f"/items/{item.id}/city", {"reason": REASON}).status_code == 403

