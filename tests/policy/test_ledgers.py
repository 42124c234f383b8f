"""台账 exports read back with openpyxl: Chinese headers, period and department filters, role limits."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.helpers import OCTOBER_CO as CO
from tests.helpers import OCTOBER_LEAD as LEAD
from tests.helpers import OCTOBER_WRONG as WRONG
from tests.helpers import Browser, crafted_october, liaison

pytestmark = pytest.mark.sqlite_only


def rows_of(response) -> list[tuple]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    sheet = load_workbook(io.BytesIO(response.data)).active
    return list(sheet.iter_rows(values_only=True))


@pytest.fixture
def browse(zjtx):
    from web import create_app

    app = create_app(services=zjtx, config={"TESTING": True})

    def make(user):
        b = Browser(app)
        b.login(user)
        return b.client
    return make


def test_the_problem_ledger(browse, zjtx):
    crafted_october(zjtx)
    client = browse("dispatcher")
    rows = rows_of(client.get("/ledgers/problems.xlsx?from=2026-10-01&to=2026-10-31"))
    assert rows[0][:5] == ("事项编号", "企业", "类别", "登记时间", "主办单位") and len(rows) == 5
    returned = next(r for r in rows[1:] if r[9] == 1)  # item C was returned once
    assert returned[4] == CO and returned[14] == "满意"
    extended = next(r for r in rows[1:] if r[10] == 1)
    assert extended[4] == LEAD and extended[14] == "基本满意"
    supervised = next(r for r in rows[1:] if r[13] == 1)
    assert supervised[12] == 1 and supervised[7] == "办理中"
    assert len(rows_of(client.get(f"/ledgers/problems.xlsx?department={WRONG}"))) == 2  # only C
    assert len(rows_of(client.get("/ledgers/problems.xlsx?from=2026-11-01&to=2026-11-30"))) == 1
    # A department's liaison gets their own department's items, whatever they ask for.
    own = rows_of(browse(liaison(LEAD)).get(f"/ledgers/problems.xlsx?department={CO}"))
    assert len(own) == 3 and all(r[4] == LEAD for r in own[1:])


def test_the_measure_and_pool_ledgers(browse, zjtx):
    client = browse("office")
    measures = rows_of(client.get("/ledgers/measures.xlsx"))
    assert measures[0][:5] == ("序号", "措施", "牵头单位", "责任单位", "措施内容") and len(measures) == 31
    assert measures[0][6] == "评定" and measures[25][6] == "尚无报告"
    tax = rows_of(client.get("/ledgers/measures.xlsx?department=黔江区税务局"))
    assert [r[0] for r in tax[1:]] == [29]  # written 区税务局 in the policy: the same unit
    assert rows_of(client.get("/ledgers/pool.xlsx"))[0][:2] == ("企业名称", "统一社会信用代码")
    assert browse("designer").get("/ledgers/pool.xlsx").status_code == 403
    assert client.get("/ledgers/problems.xlsx?from=2026-13-01").status_code == 400
