"""`zjtx listed-supervision start` and `show`: 挂牌督办 from the command line, on an item the engine made."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine.cli import main
from tests.helpers import Item, liaison

pytestmark = pytest.mark.sqlite_only
LEAD = "区科技局"


def test_the_office_lists_an_item_and_shows_its_letter(zjtx, database_url, monkeypatch):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD)
    deadline = zjtx.calendars.add_working_days(zjtx.calendars.today(), 10)["due"]
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    refused = run("listed-supervision", "start", item.key, "--as", liaison(LEAD), "--reason", "久拖未决",
                  "--colour", "黄", "--deadline", deadline)
    assert refused.exit_code == 1 and "发起「挂牌督办」需要以下角色之一" in refused.stderr
    done = run("listed-supervision", "start", item.key, "--as", "office", "--reason", "企业反映久拖未决",
               "--colour", "红", "--deadline", deadline, "--every", "3")
    assert done.exit_code == 0, done.output
    year = zjtx.calendars.today().year  # the number's year is the year it is issued
    assert "红色督办单" in done.stdout and f"黔江专精特新督〔{year}〕1号" in done.stdout
    assert "督办回复" in done.stdout and LEAD in done.stdout
    [listing] = json.loads(run("listed-supervision", "show", str(item.id), "--json").stdout)
    assert (listing["colour"], listing["report_every"], listing["deadline"], listing["lead_unit"]) == \
        ("红", 3, deadline, LEAD)
    shown = run("listed-supervision", "show", item.key, "--as", liaison(LEAD))
    assert shown.exit_code == 0 and "挂牌督办中 红色督办单" in shown.stdout
    hidden = run("listed-supervision", "show", item.key, "--as", liaison("区交通局"))
    assert hidden.exit_code == 1 and "不存在，或您无权查看" in hidden.stderr
