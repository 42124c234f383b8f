"""The 督办函 as a Word document in the 公文 layout (engine.policy.circulars.document): addressed to the item's
lead unit, with the matter, the 批示, the new deadline and the reporting requirement, dated the day it was
issued (Beijing)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from engine.localtime import chinese_date, local
from engine.policy.circulars import document
from engine.storage.models import ListedSupervision, ProcessInstance

COLOUR_MEANING = {"蓝": "提醒", "黄": "进度缓慢或质量不高", "红": "逾期或问题严重"}


def title_of(item: ProcessInstance) -> str:
    return f"关于对{item.title or item.business_key}事项挂牌督办的函"


def lines_of(listing: ListedSupervision, item: ProcessInstance, lead: str, description: str | None,
             leader: str | None) -> list[str]:
    colour = f"{listing.colour}色督办单（{COLOUR_MEANING.get(listing.colour, '')}）"
    lines = [f"{lead}：",
             f"由你单位主办的企业问题「{item.title or item.business_key}」（事项编号 {item.business_key}），"
             f"{listing.reason.rstrip('。')}。经研究，决定对该事项挂牌督办，发{colour}。", "",
             "一、督办事项"]
    lines.append(description or (item.title or item.business_key))
    lines += ["", "二、领导批示"]
    lines.append(f"{leader or '领导小组组长'}批示：{listing.instruction}" if listing.instruction else "无。")
    lines += ["", "三、办理要求",
              f"请你单位高度重视，于{chinese_date(listing.deadline)}前办结，并将办理结果书面报送领导小组办公室。",
              "", "四、报告要求",
              f"督办期间，请每 {listing.report_every} 个工作日报送一次督办回复（办理进展、存在问题、下一步措施），"
              f"首次报送时间为{chinese_date(listing.first_report_due)}前；未按时报送的，按规定预警、催办、督办，并在通报中载明。",
              "", "联系单位：区经济信息委（领导小组办公室）"]
    return lines


def render(listing: ListedSupervision, item: ProcessInstance, lead: str, description: str | None,
           leader: str | None, tz: ZoneInfo) -> bytes:
    day = local(listing.issued_at, tz).date()
    return document.render_letter(listing.number, title_of(item),
                                  lines_of(listing, item, lead, description, leader), day)
