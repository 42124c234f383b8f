"""联席会议 on the pages: the archive (/meetings) for the central roles only, 「召开联席会议」 starting one, a held
meeting's page with its decisions and 「交办议定事项」 for the dispatcher, the minutes download, and the item page
of a dispatched decision showing 「来自联席会议 〔2026〕第1次」."""
from __future__ import annotations

import io

import pytest
from docx import Document

from engine.policy.meetings.service import MeetingService
from tests.helpers import liaison
from tests.policy.test_joint_meeting import RECORD, tasks

pytestmark = pytest.mark.sqlite_only




def test_a_meeting_from_the_archive_to_its_dispatched_items(zjtx, clock, pages):
    dispatcher, office, unit = pages("dispatcher"), pages("office"), pages(liaison("区科技局"))
    assert unit.get("/meetings/").status_code == 403
    assert unit.post("/meetings/start").status_code == 403
    assert "联席会议" not in unit.get("/notifications").get_data(as_text=True).split("<nav>")[1].split("</nav>")[0]
    assert dispatcher.post("/meetings/start").status_code == 302
    page = office.get("/meetings/").get_data(as_text=True)
    assert "议程准备中" in page and "联席会议 （未编号）" in page
    [row] = MeetingService.of(zjtx).archive("dispatcher")
    for step, data, who in (("prepare_agenda", {}, "dispatcher"), ("approve_agenda", {"agenda_approved": True}, "office"),
                            ("record_meeting", RECORD, "dispatcher")):
        [task] = tasks(zjtx, row["instance_id"], step)
        zjtx.workflows.complete(task["id"], data, who)
    view = office.get(f"/meetings/{row['id']}").get_data(as_text=True)
    assert "联席会议 〔2026〕第1次" in view and "协调解决某企业扩产用地指标" in view and "未交办" in view
    assert "交办议定事项" not in view  # the office sees, the dispatcher dispatches
    assert office.post(f"/meetings/{row['id']}/dispatch").status_code == 403
    assert "交办议定事项" in dispatcher.get(f"/meetings/{row['id']}").get_data(as_text=True)
    assert dispatcher.post(f"/meetings/{row['id']}/dispatch").status_code == 302
    detail = MeetingService.of(zjtx).detail("dispatcher", row["id"])
    keys = [d["item_key"] for d in detail["decisions"]]
    assert all(keys) and keys[0] in office.get("/meetings/").get_data(as_text=True)
    item = dispatcher.get(f"/items/{detail['decisions'][0]['item_id']}").get_data(as_text=True)
    assert "来自联席会议 〔2026〕第1次" in item and "区规划自然资源局" in item
    [triage] = tasks(zjtx, detail["decisions"][0]["item_id"], "triage")
    zjtx.workflows.complete(triage["id"], {"triage_decision": "accept"}, "dispatcher")
    [dispatch_task] = tasks(zjtx, detail["decisions"][0]["item_id"], "dispatch")
    form = dispatcher.get(f"/tasks/{dispatch_task['id']}").get_data(as_text=True)
    # 交办: the decision's lead unit and its deadline (2026-11-30: 18 working days after Wednesday 11-04) pre-filled
    assert '<option value="区规划自然资源局" selected' in form and 'value="18"' in form
    minutes = office.client.get(f"/meetings/{row['id']}/minutes.docx")
    assert minutes.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(minutes.data)).paragraphs)
    assert keys[1] in text
    assert unit.client.get(f"/meetings/{row['id']}/minutes.docx").status_code == 403
