"""The SMS provider adapters (notifications/channels/sms_providers.py) against a local receiver that checks the
documented request: 腾讯云短信 SendSms (API 2021-01-11) signed with TC3-HMAC-SHA256, the signature recomputed here
from the published steps (not with the adapter's code), the approved template's id and values in order. An
enterprise contact is invited and signs in with a code that reached it only as a template value; a notice with
no template is not sent and says why; bad configuration is refused in Chinese."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from engine.config import Settings, load_sms_templates
from engine.errors import ConfigurationError
from engine.policy.portal import EnterpriseAccounts
from engine.storage.models import OutboxMessage
from notifications.channels.base import DeliveryError
from notifications.channels.sms_providers import Outgoing, TencentAdapter
from tests.helpers import register

SECRET_ID, SECRET_KEY = "AKIDqianjiangtest0000000000000000", "qianjiang-test-secret-key-0000000"
APP_ID, SIGN = "1400000001", "黔江经信"
TEMPLATES = {"enterprise_invitation": {"id": "2000001", "params": ["enterprise", "days", "link"]},
             "enterprise_login_code": {"id": "2000002", "params": ["code", "minutes"]}}


def expected_signature(headers, body: bytes) -> str:
    """TC3-HMAC-SHA256 as TencentCloud's "Signature v3" page lays it out, step by step."""
    timestamp = int(headers["X-TC-Timestamp"])
    date = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
    canonical_headers = (f"content-type:{headers['Content-Type']}\nhost:{headers['Host']}\n"
                         f"x-tc-action:{headers['X-TC-Action'].lower()}\n")
    canonical_request = "POST\n/\n\n" + canonical_headers + "\ncontent-type;host;x-tc-action\n" + \
        hashlib.sha256(body).hexdigest()
    string_to_sign = (f"TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n"
                      + hashlib.sha256(canonical_request.encode()).hexdigest())
    key = hmac.new(("TC3" + SECRET_KEY).encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, b"sms", hashlib.sha256).digest()
    key = hmac.new(key, b"tc3_request", hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/sms/tc3_request, "
            f"SignedHeaders=content-type;host;x-tc-action, Signature={signature}")


@pytest.fixture
def tencent():
    """A loopback stand-in for sms.tencentcloudapi.com: answers as SendSms does, and refuses (AuthFailure) a
    request whose signature or headers are not as documented. Yields (its URL, the bodies it accepted)."""
    accepted: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            problems = [name for name, want in (("X-TC-Action", "SendSms"), ("X-TC-Version", "2021-01-11"),
                                                ("X-TC-Region", "ap-guangzhou"),
                                                ("Content-Type", "application/json; charset=utf-8"))
                        if self.headers.get(name) != want]
            if self.headers.get("Authorization") != expected_signature(self.headers, body):
                problems.append("signature")
            if problems:
                reply = {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": ",".join(problems)}}
            else:
                request = json.loads(body)
                accepted.append(request)
                code = "Ok" if request["TemplateId"] != "9999999" else "FailedOperation.TemplateIncorrectOrUnapproved"
                reply = {"SendStatusSet": [{"PhoneNumber": request["PhoneNumberSet"][0], "Code": code,
                                            "Message": "send success" if code == "Ok" else "template"}]}
            answer = json.dumps({"Response": {**reply, "RequestId": "test"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", accepted
    server.shutdown()


def adapter(url: str, templates=TEMPLATES, key: str = SECRET_KEY) -> TencentAdapter:
    return TencentAdapter(url, SECRET_ID, key, APP_ID, SIGN, "ap-guangzhou", templates, timeout=5)


def test_a_message_goes_as_the_approved_template_with_its_values_in_order(tencent):
    url, accepted = tencent
    adapter(url).send(Outgoing(key="qiye-code:7:sms:contact-13800001111", mobile="13800001111", text="【验证码】…",
                               template="enterprise_login_code", params={"code": "024681", "minutes": 10, "x": "y"}))
    assert accepted == [{"PhoneNumberSet": ["+8613800001111"], "SmsSdkAppId": APP_ID, "SignName": SIGN,
                         "TemplateId": "2000002", "TemplateParamSet": ["024681", "10"],
                         "SessionContext": "qiye-code:7:sms:contact-13800001111"}]


def test_a_wrong_key_a_refused_template_and_a_notice_without_one_are_not_deliveries(tencent):
    url, accepted = tencent
    message = Outgoing(key="k", mobile="13800001111", text="t", template="enterprise_login_code", params={"code": "1"})
    with pytest.raises(DeliveryError, match=r"AuthFailure\.SignatureFailure"):
        adapter(url, key="another-secret-key").send(message)
    with pytest.raises(DeliveryError, match="TemplateIncorrectOrUnapproved"):
        adapter(url, {"enterprise_login_code": {"id": "9999999", "params": ["code"]}}).send(message)
    with pytest.raises(DeliveryError, match="短信模板未配置：通知「enterprise_accepted」"):
        adapter(url).send(Outgoing(key="k2", mobile="13800001111", text="t", template="enterprise_accepted", params={}))
    assert [a["TemplateId"] for a in accepted] == ["9999999"]  # the unmapped one never left


def test_the_templates_file_is_checked_when_the_channel_is_built(tmp_path):
    with pytest.raises(ConfigurationError, match="ZJTX_SMS_TEMPLATES"):
        load_sms_templates(None)
    bad = tmp_path / "t.json"
    for text, words in (("{", "不是有效的 JSON"), ('{"no_such_notice": {"id": "1"}}', "不是本系统的通知"),
                        ('{"enterprise_login_code": {"params": ["code"]}}', "应为"), ("[]", "应为对象")):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigurationError, match=words):
            load_sms_templates(bad)
    with pytest.raises(ConfigurationError, match="无法读取"):
        load_sms_templates(tmp_path / "missing.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(TEMPLATES), encoding="utf-8")
    assert load_sms_templates(good) == TEMPLATES


def test_settings_name_what_the_tencent_provider_lacks():
    with pytest.raises(ConfigurationError, match="ZJTX_SMS_SECRET_ID"):
        Settings.from_env({"ZJTX_SMS_PROVIDER": "tencent"})
    with pytest.raises(ConfigurationError, match="ZJTX_SMS_PROVIDER"):
        Settings.from_env({"ZJTX_SMS_PROVIDER": "carrier-pigeon"})


def test_an_invited_contact_signs_in_with_a_code_carried_as_a_template_value(database_url, make_engine, tencent,
                                                                              tmp_path):
    url, accepted = tencent
    templates = tmp_path / "sms-templates.json"
    templates.write_text(json.dumps(TEMPLATES), encoding="utf-8")
    zjtx = make_engine(database_url, sms_provider="tencent", sms_gateway_url=url, sms_secret_id=SECRET_ID,
                       sms_secret_key=SECRET_KEY, sms_app_id=APP_ID, sms_sign_name=SIGN, sms_templates=templates)
    try:
        portal = EnterpriseAccounts.of(zjtx)
        portal.invite("officer", register(zjtx), {"contact_name": "王经理", "mobile": "13800001111"})
        assert zjtx.deliverer.deliver_due() == 1
        enterprise, days, link = accepted[0]["TemplateParamSet"]
        assert (accepted[0]["TemplateId"], enterprise, days) == ("2000001", "重庆黔江某精密制造有限公司", "7")
        portal.accept(re.search(r"/qiye/invite/([A-Za-z0-9_-]+)$", link).group(1))
        portal.request_code("13800001111", "10.0.0.8")
        zjtx.deliverer.deliver_due()
        code, minutes = accepted[-1]["TemplateParamSet"]
        assert accepted[-1]["TemplateId"] == "2000002" and minutes == "10"
        assert portal.sign_in_with_code("13800001111", code, "10.0.0.8")[0].contact_name == "王经理"
        with zjtx.db.read() as session:  # what was sent is kept as the notice's values, for the adapter
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")
                                  .order_by(OutboxMessage.id.desc())).first()
            assert row.payload["template"] == "enterprise_login_code" and row.status == "sent"
    finally:
        zjtx.close()
