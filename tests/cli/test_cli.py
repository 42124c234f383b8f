"""The `zjtx` command walked end to end, as the README tells a new administrator to."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

pytestmark = pytest.mark.sqlite_only
ROOT = Path(__file__).resolve().parents[2]
BPMN = ROOT / "processes" / "problem_dispatch.bpmn"


@pytest.fixture
def zjtx_cli(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    def run_json(*args):
        return json.loads(run(*args, "--json").stdout)

    run.json = run_json
    return run


def test_one_problem_from_registration_to_close(zjtx_cli):
    run = zjtx_cli
    assert "数据库已就绪" in run("init-db").stdout
    assert "部门 23 个，措施 30 项" in run("seed").stdout
    assert run.json("deploy", BPMN)[0] == {
        "process": "problem_dispatch", "name": "企业问题交办", "version": 1, "created": True}
    item = run.json("start", "problem_dispatch", "--as", "dispatcher", "--data", json.dumps({
        "enterprise_name": "黔江某新材料科技有限公司", "category": "用工", "source": "联席会议",
        "description": "新产线投产需招聘熟练技工约60人。"}, ensure_ascii=False))
    key = item["business_key"]
    [triage] = item["open_tasks"]

    def done(task_id, user, data):
        return run.json("complete", task_id, "--as", user, "--data", json.dumps(data, ensure_ascii=False))

    done(triage["id"], "dispatcher", {"triage_decision": "accept"})
    [dispatch] = run.json("tasks", "--department", "区经济信息委")
    done(dispatch["id"], "dispatcher", {"lead_department": "区人力社保局", "lead_due_working_days": 10})
    [sign] = run.json("tasks", "--department", "区人力社保局")
    assert (sign["task"], sign["status_label"], sign["business_key"]) == ("sign", "待签收", key)
    assert run.json("tasks", "--as", "economy_info_commission_liaison") == []
    # 转办: the liaison signs and assigns the matter to the bureau's 承办人, who answers; the head signs it off.
    done(sign["id"], "human_resources_social_security_bureau_liaison",
         {"sign_decision": "sign", "handler": "human_resources_social_security_bureau_handler"})
    [handle] = run.json("tasks", "--department", "区人力社保局")
    assert handle["task"] == "handle"
    done(handle["id"], "human_resources_social_security_bureau_handler",
         {"handle_action": "answer", "answer": "已组织专场招聘会，企业招到技工58人。"})
    [sign_off] = run.json("tasks", "--department", "区人力社保局")
    assert (sign_off["task"], sign_off["roles"]) == ("head_review_slot", ["department_head"])
    done(sign_off["id"], "human_resources_social_security_bureau_head", {"head_decision": "approve"})
    [review] = run.json("tasks")
    done(review["id"], "dispatcher", {"review_decision": "accept"})
    [rating] = run.json("tasks")
    result = done(rating["id"], "officer", {"visit_reached": "reached", "visit_method": "电话", "visit_at": "2026-10-20 09:30",
                                           "visit_person": "企业联系人", "solved": "已解决", "satisfied": "满意"})
    assert result["instance"]["status"] == "completed" and result["instance"]["item_status"] == "已办结"
    shown = run.json("show", key)
    assert shown["status"] == "completed" and shown["open_tasks"] == []
    assert [h["action"] for h in shown["history"]].count("complete") == 7
    human = run("show", key).stdout
    assert "已办结" in human and "办理记录" in human


def test_reference_data_commands(zjtx_cli):
    run = zjtx_cli
    run("init-db")
    run("seed", "--no-demo-users")
    measures = run.json("measures")
    assert [m["no"] for m in measures] == list(range(1, 31))
    assert {"no", "title", "lead", "responsible"} <= set(measures[0])
    assert measures[24]["lead"] == [] and measures[24]["responsible"] == ["区经济信息委", "区商务委", "正阳工业园区管委会"]
    assert measures[28]["responsible"] == ["区税务局"]  # as the policy writes it
    departments = run.json("departments")
    tax = next(d for d in departments if d["name"] == "黔江区税务局")
    assert tax["aliases"] == ["区税务局"] and tax["leading_group_member"] is True
    assert "牵头：区科技局" in run("measures").stdout


def test_mistakes_get_a_chinese_message_and_a_non_zero_exit(zjtx_cli):
    run = zjtx_cli
    run("init-db")
    run("seed")
    run("deploy", BPMN)
    bad_json = run("start", "problem_dispatch", "--data", "{oops", ok=False)
    assert bad_json.exit_code == 2 and "不是有效的 JSON" in bad_json.stderr
    invalid = run("start", "problem_dispatch", "--data", '{"category": "用地"}', ok=False)
    assert invalid.exit_code == 1 and "「企业名称」为必填项" in invalid.stderr
    missing = run("complete", "999", "--as", "dispatcher", "--data", "{}", ok=False)
    assert missing.exit_code == 1 and "任务 999 不存在" in missing.stderr
    nobody = run("tasks", "--as", "nobody", ok=False)
    assert nobody.exit_code == 1 and "用户「nobody」不存在" in nobody.stderr
    unknown_dep = run("tasks", "--department", "区不存在局", ok=False)
    assert "部门「区不存在局」不存在" in unknown_dep.stderr
    not_bpmn = run("deploy", ROOT / "setup.cfg", ok=False)
    assert not_bpmn.exit_code == 1 and "setup.cfg" in not_bpmn.stderr and "XML 格式错误" in not_bpmn.stderr


def test_demo_items_are_loaded_once(zjtx_cli):
    run = zjtx_cli
    run("init-db")
    run("seed")
    run("deploy", BPMN)
    assert "已写入 7 件演示事项" in run("demo").stdout  # only problem_dispatch is deployed: its part of the demo
    assert "未写入演示数据" in run("demo").stdout
    statuses = [t["task"] for t in run.json("tasks")]
    assert (statuses.count("triage"), statuses.count("sign"), statuses.count("handle")) == (1, 2, 5)  # 4 + 督办 item


def test_deploying_the_bundled_processes_creates_their_default_schedules_once(zjtx_cli, tmp_path):
    """`make run` deploys processes/*.bpmn with `zjtx deploy`: the monthly circular, the quarterly measure
    reports and the yearly pool update are scheduled then (an upload from elsewhere schedules nothing)."""
    run = zjtx_cli
    run("init-db")
    run("seed")
    elsewhere = tmp_path / "evaluation_circular.bpmn"
    elsewhere.write_bytes((ROOT / "processes" / "evaluation_circular.bpmn").read_bytes())
    run("deploy", elsewhere)
    assert run.json("schedule", "list") == []
    run("deploy", *sorted((ROOT / "processes").glob("*.bpmn")))
    names = sorted(s["name"] for s in run.json("schedule", "list"))
    assert names == ["培育库年度数据更新", "措施进展季度报告", "月度通报", "联席会议（季度）"]
    run("schedule", "set", "月度通报", "evaluation_circular", "workday:3@09:00")
    run("deploy", *sorted((ROOT / "processes").glob("*.bpmn")))
    schedules = run.json("schedule", "list")
    assert len(schedules) == 4 and next(s for s in schedules if s["name"] == "月度通报")["rule"] == "workday:3@09:00"


def test_a_second_district_is_created_listed_and_worked_in_by_its_code(zjtx_cli, tmp_path):
    run = zjtx_cli
    run("init-db")
    run("seed")
    refused = run("district", "create", "500243", "彭水县", ok=False)
    assert refused.exit_code == 2 and "--admin" in refused.stderr
    bad_units = tmp_path / "units.json"
    bad_units.write_text('[{"name": "县经济信息委"}]', encoding="utf-8")
    refused = run("district", "create", "500243", "彭水县", "--units", bad_units, "--demo-prefix", "ps_", ok=False)
    assert refused.exit_code == 1 and "第 1 个单位" in refused.stderr and "short_code" in refused.stderr
    created = run.json("district", "create", "500243", "彭水县", "--full-name", "重庆市彭水苗族土家族自治县",
                       "--admin", "ps_admin", "--admin-password", "Pengshui-2026")
    assert created["code"] == "500243"
    assert [(d["code"], d["name"]) for d in run.json("district", "list")] == [("500114", "黔江区"), ("500243", "彭水县")]
    again = run("district", "create", "500243", "彭水县", "--demo-prefix", "ps_", ok=False)
    assert again.exit_code == 1 and "已有区县" in again.stderr
    # The district's own procedures and accounts, by its code; 黔江区's accounts are not its.
    started = run.json("--district", "500243", "start", "problem_dispatch", "--as", "ps_admin", "--data", json.dumps({
        "enterprise_name": "彭水某食品有限公司", "category": "融资", "source": "服务专员",
        "description": "扩产需流动资金贷款。"}, ensure_ascii=False))
    assert started["open_tasks"]
    assert run.json("--district", "500243", "tasks", "--as", "ps_admin")
    assert not [t for t in run.json("tasks", "--as", "admin") if t["instance_id"] == started["id"]]
    unknown = run("--district", "500999", "tasks", ok=False)
    assert unknown.exit_code == 1 and "没有区划代码为 500999 的区县" in unknown.stderr
    short = run("district", "create", "500101", "万州区", "--admin", "wz_admin", "--admin-password", "short", ok=False)
    assert short.exit_code == 1 and "至少 8 位" in short.stderr
    no_city = run("district", "create", "500101", "万州区", "--demo-prefix", "wz_", "--templates", "all", ok=False)
    assert no_city.exit_code == 1 and "尚未建立重庆市本级" in no_city.stderr
    run("district", "create", "500000", "重庆市", "--demo-prefix", "cq_")
    unknown = run("district", "create", "500101", "万州区", "--demo-prefix", "wz_", "--templates", "nothing", ok=False)
    assert unknown.exit_code == 1 and "全市没有流程「nothing」的模板" in unknown.stderr
    assert "万州区" not in run("district", "list").stdout
    run("district", "create", "500101", "万州区", "--demo-prefix", "wz_", "--templates", "problem_dispatch")
    assert "万州区" in run("district", "list").stdout
