"""Who carries the text messages: the provider adapter a deployment configures (``ZJTX_SMS_PROVIDER``).

- ``gateway`` (the default): the district's own SMS gateway on its intranet, one JSON ``POST`` per message
  (``{"key", "mobile", "content"}`` with ``Idempotency-Key``; any 2xx is a delivery). The gateway sends the text
  as it is.
- ``tencent``: 腾讯云短信 (SendSms, API version 2021-01-11), signed with TC3-HMAC-SHA256 under the deployment's
  SecretId/SecretKey. Text messages in mainland China go out only through templates the operator has had
  approved, so each of our notices that may reach a contact by SMS maps, in the deployment's templates file
  (``ZJTX_SMS_TEMPLATES``, JSON), to the approved template's id and the notice values filling its {1}, {2}…::

      {"enterprise_login_code": {"id": "1234567", "params": ["code", "minutes"]},
       "enterprise_accepted": {"id": "1234568", "params": ["business_key"]}}

  A notice with no template there is not sent (the outbox tries again, then reports it dead to the
  administrators: 「短信模板未配置」), never sent as free text the provider would refuse.

An adapter reads the notice's name and values from the outbox row's payload (the SMS channel keeps them there).
The templates file is read and checked with the settings (engine.config.load_sms_templates).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from notifications.channels.base import DeliveryError
from notifications.channels.http import post_json

CONTENT_LIMIT = 500  # characters: a long text message is sent in parts by the gateway
TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com"
TENCENT_VERSION = "2021-01-11"
TENCENT_SERVICE = "sms"
PARAM_LIMIT = 100  # characters of one template value (the provider's own limits are stricter per template type)


@dataclass(frozen=True)
class Outgoing:
    """One text message as an adapter sends it."""

    key: str  # the outbox row's idempotency key
    mobile: str  # mainland number, 11 digits
    text: str  # subject and body as rendered, for a gateway that takes free text
    template: str  # our notice's name (notifications/templates/<name>.txt)
    params: dict  # the notice's values, by name


class GatewayAdapter:
    name = "gateway"

    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout

    def send(self, message: Outgoing) -> None:
        post_json(self.url, {"key": message.key, "mobile": message.mobile, "content": message.text[:CONTENT_LIMIT]},
                  message.key, self.timeout, what="短信网关")


def tc3_authorization(secret_id: str, secret_key: str, host: str, action: str, body: bytes, timestamp: int,
                      service: str = TENCENT_SERVICE) -> str:
    """The Authorization header of a TencentCloud API 3.0 POST (signature v3, TC3-HMAC-SHA256) whose JSON
    ``body`` goes to ``host`` for ``action``, at ``timestamp`` (seconds, UTC)."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    headers = f"content-type:application/json; charset=utf-8\nhost:{host}\nx-tc-action:{action.lower()}\n"
    signed = "content-type;host;x-tc-action"
    canonical = "\n".join(["POST", "/", "", headers, signed, hashlib.sha256(body).hexdigest()])
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])

    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()

    signing = mac(mac(mac(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    signature = hmac.new(signing, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed}, Signature={signature}"


class TencentAdapter:
    name = "tencent"

    def __init__(self, endpoint: str, secret_id: str, secret_key: str, app_id: str, sign_name: str, region: str,
                 templates: dict[str, dict], timeout: float, clock=time.time):
        self.endpoint, self.host = endpoint.rstrip("/"), urlsplit(endpoint).netloc
        self.secret_id, self.secret_key, self.app_id = secret_id, secret_key, app_id
        self.sign_name, self.region, self.templates, self.timeout, self.clock = sign_name, region, templates, timeout, clock

    def body(self, message: Outgoing) -> dict:
        entry = self.templates.get(message.template)
        if entry is None:
            raise DeliveryError(f"短信模板未配置：通知「{message.template}」在 ZJTX_SMS_TEMPLATES 中没有对应的腾讯云模板")
        values = [str(message.params.get(p, ""))[:PARAM_LIMIT] for p in entry["params"]]
        return {"PhoneNumberSet": [f"+86{message.mobile}"], "SmsSdkAppId": self.app_id, "SignName": self.sign_name,
                "TemplateId": entry["id"], "TemplateParamSet": values, "SessionContext": message.key[:512]}

    def send(self, message: Outgoing) -> None:
        body = json.dumps(self.body(message), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        now = int(self.clock())
        request = urllib.request.Request(self.endpoint + "/", data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Host": self.host, "X-TC-Action": "SendSms",
            "X-TC-Version": TENCENT_VERSION, "X-TC-Timestamp": str(now), "X-TC-Region": self.region,
            "Authorization": tc3_authorization(self.secret_id, self.secret_key, self.host, "SendSms", body, now)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read(65536).decode("utf-8") or "{}")
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"腾讯云短信返回 HTTP {exc.code}") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryError(f"腾讯云短信无法连接：{exc}") from exc
        except ValueError as exc:
            raise DeliveryError("腾讯云短信的应答不是 JSON") from exc
        self._check(answer)

    @staticmethod
    def _check(answer: dict) -> None:
        """A delivery only when the provider says so for the number ("Ok"); its error code otherwise."""
        reply = answer.get("Response") if isinstance(answer, dict) else None
        if not isinstance(reply, dict):
            raise DeliveryError("腾讯云短信的应答缺少 Response")
        if isinstance(reply.get("Error"), dict):
            error = reply["Error"]
            raise DeliveryError(f"腾讯云短信拒绝：{error.get('Code')} {error.get('Message')}")
        statuses = reply.get("SendStatusSet") or []
        if not statuses or not all(isinstance(s, dict) and s.get("Code") == "Ok" for s in statuses):
            first = statuses[0] if statuses and isinstance(statuses[0], dict) else {}
            raise DeliveryError(f"腾讯云短信未发送：{first.get('Code', '无状态')} {first.get('Message', '')}".strip())
