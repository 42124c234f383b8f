"""Issue 20's benchmark: the deployment as the whole city runs it — 38 districts, a million instances in all —
measured against one district of 10,000 (``zjtx bench --districts 38 --district-total 1000000``).

Every district is made as `zjtx district create` makes one (its units, demo accounts, the shipped processes), then
filled with copies of one of its own dispatched items (its own version, units and district), so the million rows
are the districts' own. The home district (黔江区) is then measured as before: a tick of the scheduler (which now
asks every district), a department's inbox page and a submit through the API.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.identity.districts import CHONGQING, county_units
from engine.storage import district
from engine.storage.models import Department, ProcessInstance


def create(services, count: int, progress=lambda message: None) -> list[tuple[int, str]]:
    """The first ``count`` districts of Chongqing (黔江区, the home, among them): (id, demo prefix) of each."""
    have = {d.code: d.id for d in services.districts()}
    out = []
    for number, (code, name) in enumerate(CHONGQING[:count]):
        if code in have:
            out.append((have[code], "" if have[code] == district.home() else f"d{number}_"))
            continue
        progress(f"  新建 {name}（{code}）…")
        district_id = services.create_district(code, name, units=county_units(name, f"重庆市{name}"),
                                               demo_prefix=f"d{number}_")
        out.append((district_id, f"d{number}_"))
    return out  # 黔江区, the home and the one measured, first


def populate(bench, districts: list[tuple[int, str]], total: int, progress=lambda message: None) -> None:
    """``total`` waiting dispatch instances in all, shared evenly by the districts (each its own copies)."""
    with district.across(), bench.services.db.read() as session:
        counts = dict(session.execute(select(ProcessInstance.district_id, func.count(ProcessInstance.id))
                                      .group_by(ProcessInstance.district_id)).all())
    share = total // len(districts)
    future = bench.workflows.clock() + timedelta(days=365)
    for district_id, prefix in districts:
        missing = share - counts.get(district_id, 0) - 1
        if missing <= 0:
            continue
        progress(f"  区县 {district_id}：{missing} 个实例 …")
        with district.scope(district_id):
            with bench.services.db.read() as session:
                units = list(session.scalars(select(Department.id).order_by(Department.id)))
            bench.prefix = prefix
            try:
                bench._copies(missing, lambda i, units=units: {"department_id": units[i % len(units)],
                                                               "next_escalation_at": future}, vacuum=False)
            finally:
                bench.prefix = ""
    if bench.services.db.dialect == "postgresql":
        with bench.services.db.as_owner() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE process_instance")
            conn.exec_driver_sql("VACUUM ANALYZE human_task")


def measure(bench, repeat: int) -> dict:
    """The home district's figures with every district filled."""
    with district.scope(district.home()):
        return {"tick": bench.tick(repeat), "inbox": bench.inbox(repeat), "submit": bench.submit(repeat)}


def rows(base: dict, base_size: int, submit: dict, multi: dict, districts: int, total: int) -> list[tuple]:
    """The report's rows: each figure with every district filled / one district at ``base_size``."""
    def ratio(a: float, b: float) -> float:
        return a / max(b, 1e-6)

    label = f"{districts} 个区县共 {total} 个实例 / 单区县 {base_size} 个"
    return [
        ("D1", f"提交一个任务（JSON API）：{label}", ratio(multi["submit"]["api"]["median_ms"], submit["api"]["median_ms"]),
         "≤ 1.5×", lambda v: v <= 1.5, f"{multi['submit']['api']['median_ms']} ms / {submit['api']['median_ms']} ms"),
        ("D2", f"调度器一次检查（逐区县询问）：{label}", ratio(multi["tick"]["median_ms"], base["tick"]["median_ms"]),
         "≤ 1.5×", lambda v: v <= 1.5, f"{multi['tick']['median_ms']} ms / {base['tick']['median_ms']} ms"),
        ("D3", f"部门待办页：{label}", ratio(multi["inbox"]["median_ms"], base["inbox"]["median_ms"]), "≤ 1.5×",
         lambda v: v <= 1.5, f"{multi['inbox']['median_ms']} ms / {base['inbox']['median_ms']} ms"),
    ]
