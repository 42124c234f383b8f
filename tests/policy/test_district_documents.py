"""A district's documents and notices are its own (issue 20): 彭水县's circular is numbered 彭水专精特新通报〔…〕, signed
by 彭水县's leading-group office, and the notices it sends sign with 彭水县; 黔江区's stay as they were."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from engine.storage import district
from engine.storage.models import InboxMessage
from tests.helpers import Item


def _published(zjtx) -> tuple[str, str]:
    with zjtx.db.write() as session:
        circular = zjtx.circulars.draft_in(session, date(2026, 10, 1), date(2026, 10, 31))
        text = circular.text
        number = zjtx.circulars.publish_in(session, circular.id, "office")
    return number, text


def test_each_districts_circular_and_notices_carry_its_own_name(zjtx, clock):
    county = zjtx.create_district("500243", "彭水县", full_name="重庆市彭水苗族土家族自治县", demo_prefix="ps_")
    number, text = _published(zjtx)
    assert number == "黔江专精特新通报〔2026〕1号" and text.endswith("黔江区“专精特新”企业培育发展工作领导小组办公室")
    with district.scope(county):
        number, text = _published(zjtx)
        assert number == "彭水专精特新通报〔2026〕1号"  # numbered apart from 黔江区's: its own first of the year
        assert text.endswith("彭水县“专精特新”企业培育发展工作领导小组办公室")
        with zjtx.db.read() as session:
            bodies = list(session.scalars(select(InboxMessage.body)))
        assert bodies and all("彭水县" in b and "黔江区" not in b for b in bodies)
        settings = {s["label"]: s["value"] for s in zjtx.district.current()}
        assert settings["通报文号格式"] == "彭水专精特新通报〔{year}〕{seq}号"
    item = Item(zjtx)  # and 黔江区's own notices still sign as 黔江区
    item.accept()
    item.dispatch("区科技局")
    with zjtx.db.read() as session:
        newest = session.scalars(select(InboxMessage.body).order_by(InboxMessage.id.desc())).first()
    assert "黔江区" in newest and "彭水县" not in newest
