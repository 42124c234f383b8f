"""The minutes of a joint meeting (会议纪要) as a Word document in the 公文 layout (engine.policy.circulars.document):
numbered 〔2026〕第N次, with the date, place, chair, attendance, each topic's discussion and the decisions with
their lead units and deadlines (and the item each became), dated the meeting's day."""
from __future__ import annotations

from datetime import date

from engine.identity import districts
from engine.localtime import chinese_date
from engine.policy.circulars import document

TITLE = "黔江区“专精特新”企业培育发展工作联席会议纪要"


def lines_of(meeting: dict, held_on: date) -> list[str]:
    people = "、".join(f"{a.get('department')}{a.get('person')}" for a in meeting["attendance"])
    lines = [f"{chinese_date(held_on)}，{meeting['chair']}在{meeting['place']}主持召开联席会议，"
             f"研究企业问题办理和措施落实中的重点难点事项。现将会议议定事项纪要如下。", "",
             "一、出席人员", people or "无。", "", "二、议题讨论情况"]
    for n, topic in enumerate(meeting["topics"], start=1):
        lines.append(f"（{n}）{topic.get('title')}：{topic.get('discussion')}")
    lines += ["", "三、议定事项"]
    for d in meeting["decisions"] or ():
        item = f"，事项编号 {d['item_key']}" if d.get("item_key") else ""
        lines.append(f"{d['position']}. {d['text']}（主办单位：{d['lead_unit']}；"
                     f"办理期限：{chinese_date(date.fromisoformat(d['due_date']))}{item}）")
    if not meeting["decisions"]:
        lines.append("无。")
    lines += ["", "议定事项由区经济信息委按企业问题交办流程交办，各主办单位按期办结并报送办理结果。"]
    return lines


def render(meeting: dict, held_on: date) -> bytes:
    title = TITLE.replace("黔江区", districts.name_of())
    return document.render_letter(f"联席会议{meeting['number']}", title, lines_of(meeting, held_on), held_on)
