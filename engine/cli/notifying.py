"""``zjtx``: Notifications: the outbox, webhooks, API tokens and users' channel preferences."""
from __future__ import annotations

import sys
from zoneinfo import ZoneInfo

import click

from engine.cli.base import _print_json, _services, main
from notifications import channels

BEIJING = ZoneInfo("Asia/Shanghai")


@main.group()
def outbox():
    """通知发件箱：查看待发送与发送失败的邮件、Webhook 消息，手动重发。"""


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "dead"]), help="只看某一状态")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_list(ctx, status, limit, as_json):
    from sqlalchemy import select

    from engine.storage.models import OutboxMessage
    from notifications.delivery import STATUS_LABELS

    with _services(ctx).db.read() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        rows = [{"id": m.id, "channel": m.channel, "to": m.address, "subject": m.subject, "status": m.status,
                 "status_label": STATUS_LABELS[m.status], "attempts": m.attempts, "last_error": m.last_error,
                 "created_at": m.created_at.isoformat(), "sent_at": m.sent_at.isoformat() if m.sent_at else None}
                for m in session.scalars(query)]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("发件箱为空")
    for r in rows:
        error = f"  错误：{r['last_error']}" if r["last_error"] else ""
        click.echo(f"#{r['id']:<5} {r['status_label']:<10} {r['channel']:<7} 第{r['attempts']}次 {r['to']}  "
                   f"{r['subject']}{error}")


@outbox.command("retry")
@click.argument("message_id", type=int)
@click.pass_context
def outbox_retry(ctx, message_id):
    """把一条发送失败（死信）的消息重新放回发送队列。"""
    if not _services(ctx).deliverer.retry(message_id):
        click.echo(f"错误：消息 {message_id} 不存在或不是发送失败状态", err=True)
        sys.exit(1)
    click.echo(f"消息 {message_id} 已重新排队发送")


@main.group()
def webhook():
    """Webhook 接收端（部门工作群机器人等）。"""


@webhook.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["json", "wecom", "dingtalk"]), default="json", show_default=True,
              help="json：完整 JSON；wecom/dingtalk：企业微信/钉钉群机器人文本消息")
@click.option("--department", help="只接收该部门的通知（缺省接收全部）")
@click.pass_context
def webhook_add(ctx, name, url, fmt, department):
    from engine.identity.org import DepartmentDirectory
    from engine.storage.models import WebhookEndpoint

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("地址必须以 http:// 或 https:// 开头", param_hint="URL")
    with _services(ctx).db.write() as session:
        dep = DepartmentDirectory.of(session).get(department).id if department else None
        session.add(WebhookEndpoint(name=name, url=url, format=fmt, department_id=dep, enabled=True))
    click.echo(f"已添加 Webhook「{name}」（{fmt}）{'，部门：' + department if department else '，接收全部通知'}")


@webhook.command("list")
@click.pass_context
def webhook_list(ctx):
    from sqlalchemy import select

    from engine.identity.org import DepartmentDirectory
    from engine.storage.models import WebhookEndpoint

    with _services(ctx).db.read() as session:
        directory = DepartmentDirectory.of(session)
        rows = list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))
        names = {r.id: directory.name_of(r.department_id) if r.department_id else "全部" for r in rows}
    if not rows:
        click.echo("没有 Webhook")
    for r in rows:
        click.echo(f"#{r.id} {r.name} {r.format} {names[r.id]} {'启用' if r.enabled else '停用'} {r.url}")


@main.command("token")
@click.argument("username")
@click.argument("name")
@click.option("--list", "listing", is_flag=True, help="列出该用户的令牌（NAME 填任意值，如 -）")
@click.option("--revoke", "revoke_id", type=click.IntRange(1), help="吊销该用户编号为此的令牌")
@click.pass_context
def token(ctx, username, name, listing, revoke_id):
    """为用户签发 JSON API 令牌（只显示一次）；--list 列出，--revoke 编号 吊销。"""
    from engine.errors import TokenNotFound
    from engine.identity.accounts import issue_token, revoke_token, tokens_of
    from engine.identity.org import get_user
    from engine.storage.models import AuditRecord

    services = _services(ctx)
    with services.db.write() as session:
        user = get_user(session, username)
        if listing:
            for row in tokens_of(session, user.id):
                used = row["last_used_at"].astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if row["last_used_at"] \
                    else "从未使用"
                click.echo(f"#{row['id']} {row['name']} 最近使用：{used}{' 已吊销' if row['revoked'] else ''}")
            return
        if revoke_id is not None:
            if not revoke_token(session, user.id, revoke_id):
                raise TokenNotFound(revoke_id)
            action, data = "token_revoked", {"user_id": user.id, "token_id": revoke_id}
        else:
            value = issue_token(session, user.id, name)
            action, data = "token_issued", {"user_id": user.id, "name": name[:100]}
        session.add(AuditRecord(action=action, actor="zjtx", at=services.identity.clock(), data=data))
    click.echo(f"已吊销 {username} 的令牌 #{revoke_id}" if revoke_id is not None else value)


@main.command("notify-pref")
@click.argument("username")
@click.argument("channel", type=click.Choice(channels.names()))
@click.argument("state", type=click.Choice(["on", "off"]))
@click.pass_context
def notify_pref(ctx, username, channel, state):
    """设置用户接收某一渠道的通知（on/off）。"""
    from engine.identity.org import get_user
    from notifications.outbox import set_preference

    with _services(ctx).db.write() as session:
        set_preference(session, get_user(session, username).id, channel, state == "on")
    click.echo(f"{username}：{channels.labels()[channel]}{'开启' if state == 'on' else '关闭'}")
