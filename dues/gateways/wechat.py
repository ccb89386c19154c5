"""WeChat Pay (API v3) through the maintained ``wechatpayv3`` SDK.

Configured from the WECHATPAY_* settings: merchant id, app id, the
merchant's API certificate serial number and private key file, the API v3
key, and the directory of WeChat Pay platform certificates that verify the
callbacks. The SDK verifies each callback's signature and decrypts its
resource; nothing here re-implements either.
"""

import json
import logging
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from wechatpayv3 import WeChatPay, WeChatPayType

from dues.gateways import base

logger = logging.getLogger(__name__)

# trade_state of WeChat Pay, in our few words.
_STATES = {
    "SUCCESS": base.PAID,
    "REFUND": base.PAID,  # paid, then (partly) refunded
    "NOTPAY": base.PENDING,
    "USERPAYING": base.PENDING,
    "CLOSED": base.CLOSED,
    "REVOKED": base.CLOSED,
    "PAYERROR": base.FAILED,
}


def notify_url() -> str:
    return settings.LIUDONG_PUBLIC_URL + reverse("pay:callback", args=["wechat"])


def client(pay_type: WeChatPayType = WeChatPayType.NATIVE) -> WeChatPay:
    """The SDK client, built from the settings at each use."""
    try:
        private_key = Path(settings.WECHATPAY_PRIVATE_KEY_FILE).read_text()
        return WeChatPay(
            wechatpay_type=pay_type,
            mchid=settings.WECHATPAY_MCHID,
            private_key=private_key,
            cert_serial_no=settings.WECHATPAY_CERT_SERIAL_NO,
            appid=settings.WECHATPAY_APPID,
            apiv3_key=settings.WECHATPAY_APIV3_KEY,
            notify_url=notify_url(),
            cert_dir=settings.WECHATPAY_CERT_DIR or None,
            logger=logger,
            timeout=(5, 15),
        )
    except Exception as exc:  # the SDK raises bare Exception
        raise base.GatewayError(f"WeChat Pay is not configured: {exc}") from exc


def _call(method, *args, **kwargs) -> tuple[int, dict]:
    try:
        code, message = method(*args, **kwargs)
    except Exception as exc:  # network errors and the SDK's bare Exception
        raise base.GatewayError(f"WeChat Pay request failed: {exc}") from exc
    try:
        data = json.loads(message) if message else {}
    except (TypeError, ValueError):
        data = {}
    return code, data


class WechatGateway(base.Gateway):
    channel = "wechat"

    def start(self, order, return_url: str, **options) -> str:
        """H5 pay with the member's IP (a phone browser), else Native (QR)."""
        client_ip = options.get("client_ip", "")
        pay_type = WeChatPayType.H5 if client_ip else WeChatPayType.NATIVE
        scene = {"payer_client_ip": client_ip, "h5_info": {"type": "Wap"}}
        code, data = _call(
            client(pay_type).pay,
            description=f"党费 {order.reference}",
            out_trade_no=order.reference,
            amount={"total": base.to_fen_int(order.amount), "currency": "CNY"},
            scene_info=scene if client_ip else None,
            pay_type=pay_type,
        )
        if code != 200:
            raise base.GatewayError(f"WeChat Pay refused the order: {code}")
        if pay_type == WeChatPayType.H5:
            return f"{data['h5_url']}&redirect_url={quote(return_url, safe='')}"
        return data["code_url"]

    def parse_notification(self, request: HttpRequest) -> base.Notification:
        try:
            data = client().callback(request.META, request.body)
        except base.GatewayError:
            raise
        except Exception as exc:  # unsupported algorithm, bad serial
            raise base.BadSignature(str(exc)) from exc
        if not data:
            raise base.BadSignature("WeChat Pay signature or resource invalid")
        resource = data.get("resource") or {}
        if str(data.get("event_type", "")).startswith("REFUND."):
            return base.Notification(
                reference=resource.get("out_trade_no", ""),
                status=base.REFUND,
                transaction_id=resource.get("transaction_id", ""),
                trade_status=resource.get("refund_status", ""),
                payload=resource,
            )
        return _transaction(resource)

    def query(self, order) -> base.QueryResult:
        code, data = _call(client().query, out_trade_no=order.reference)
        if code == 404:
            return base.QueryResult(reference=order.reference, status=base.NOT_FOUND)
        if code != 200:
            raise base.GatewayError(f"WeChat Pay query failed: {code}")
        return _transaction(data)

    def refund(self, order, refund) -> base.RefundResult:
        code, data = _call(
            client().refund,
            out_refund_no=refund.reference,
            amount={
                "refund": base.to_fen_int(refund.amount),
                "total": base.to_fen_int(order.amount),
                "currency": "CNY",
            },
            transaction_id=order.gateway_transaction_id or None,
            out_trade_no=None if order.gateway_transaction_id else order.reference,
            reason=refund.reason[:80],
        )
        if code not in (200, 201):
            raise base.GatewayError(f"WeChat Pay refund failed: {code}")
        status = data.get("status", "")
        return base.RefundResult(
            succeeded=status == "SUCCESS",
            pending=status == "PROCESSING",
            gateway_refund_id=data.get("refund_id", ""),
        )

    def answer(self, *, accepted: bool) -> HttpResponse:
        # WeChat Pay takes a 2xx as "received" and retries anything else.
        if accepted:
            return HttpResponse(status=204)
        return JsonResponse(
            {"code": "FAIL", "message": "signature verification failed"}, status=400
        )


def _transaction(resource: dict) -> base.Notification:
    amount = (resource.get("amount") or {}).get("total")
    trade_state = resource.get("trade_state", "")
    return base.Notification(
        reference=resource.get("out_trade_no", ""),
        status=_STATES.get(trade_state, base.PENDING),
        transaction_id=resource.get("transaction_id", ""),
        amount=base.from_fen_int(amount) if amount is not None else None,
        trade_status=trade_state,
        payload=resource,
    )
