"""Alipay through the maintained ``python-alipay-sdk`` (module ``alipay``).

Configured from the ALIPAY_* settings: app id, the app's private key file,
Alipay's public key file (which verifies notifications and responses) and
whether to use Alipay's sandbox. Members pay on the mobile web page
(``alipay.trade.wap.pay``); the SDK signs requests and verifies signatures.
"""

import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from dues.gateways import base

logger = logging.getLogger(__name__)

GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
SANDBOX_URL = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"

_STATES = {
    "TRADE_SUCCESS": base.PAID,
    "TRADE_FINISHED": base.PAID,
    "WAIT_BUYER_PAY": base.PENDING,
    "TRADE_CLOSED": base.CLOSED,
}


def notify_url() -> str:
    return settings.LIUDONG_PUBLIC_URL + reverse("pay:callback", args=["alipay"])


def client() -> AliPay:
    """The SDK client, built from the settings at each use."""
    try:
        return AliPay(
            appid=settings.ALIPAY_APPID,
            app_notify_url=notify_url(),
            app_private_key_string=Path(settings.ALIPAY_PRIVATE_KEY_FILE).read_text(),
            alipay_public_key_string=Path(settings.ALIPAY_PUBLIC_KEY_FILE).read_text(),
            sign_type="RSA2",
            debug=settings.ALIPAY_SANDBOX,
        )
    except (OSError, ValueError, AliPayException) as exc:
        raise base.GatewayError(f"Alipay is not configured: {exc}") from exc


def _server(method, **kwargs) -> dict:
    try:
        return method(**kwargs)
    except AliPayValidationError as exc:
        raise base.GatewayError("Alipay response signature invalid") from exc
    except AliPayException as exc:
        raise base.GatewayError(f"Alipay refused: {exc}") from exc
    except OSError as exc:
        raise base.GatewayError(f"Alipay unreachable: {exc}") from exc


class AlipayGateway(base.Gateway):
    channel = "alipay"

    def start(self, order, return_url: str, **options) -> str:
        query = client().api_alipay_trade_wap_pay(
            subject=f"党费 {order.reference}",
            out_trade_no=order.reference,
            total_amount=f"{order.amount:.2f}",
            return_url=return_url,
            notify_url=notify_url(),
        )
        return f"{SANDBOX_URL if settings.ALIPAY_SANDBOX else GATEWAY_URL}?{query}"

    def parse_notification(self, request: HttpRequest) -> base.Notification:
        data = request.POST.dict()
        signature = data.pop("sign", "")
        payload = dict(data)
        try:
            verified = bool(signature) and client().verify(data, signature)
        except (ValueError, AliPayException) as exc:
            raise base.BadSignature(str(exc)) from exc
        if not verified:
            raise base.BadSignature("Alipay signature does not verify")
        if payload.get("refund_fee") and payload.get("gmt_refund"):
            return base.Notification(
                reference=payload.get("out_trade_no", ""),
                status=base.REFUND,
                transaction_id=payload.get("trade_no", ""),
                amount=_money(payload.get("refund_fee")),
                trade_status=payload.get("trade_status", ""),
                payload=payload,
            )
        return _trade(payload)

    def query(self, order) -> base.QueryResult:
        try:
            data = client().api_alipay_trade_query(out_trade_no=order.reference)
        except AliPayException as exc:
            # An order the member never opened at Alipay is "not found".
            if "ACQ.TRADE_NOT_EXIST" in str(exc):
                return base.QueryResult(
                    reference=order.reference, status=base.NOT_FOUND
                )
            raise base.GatewayError(f"Alipay refused: {exc}") from exc
        except AliPayValidationError as exc:
            raise base.GatewayError("Alipay response signature invalid") from exc
        except OSError as exc:
            raise base.GatewayError(f"Alipay unreachable: {exc}") from exc
        if data.get("code") != "10000":
            if data.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return base.QueryResult(
                    reference=order.reference, status=base.NOT_FOUND
                )
            raise base.GatewayError(f"Alipay query failed: {data.get('sub_code')}")
        return _trade(data)

    def refund(self, order, refund) -> base.RefundResult:
        data = _server(
            client().api_alipay_trade_refund,
            refund_amount=f"{refund.amount:.2f}",
            out_trade_no=order.reference,
            out_request_no=refund.reference,
            refund_reason=refund.reason[:256],
        )
        succeeded = data.get("code") == "10000" and data.get("fund_change") == "Y"
        return base.RefundResult(
            succeeded=succeeded, gateway_refund_id=data.get("trade_no", "")
        )

    def answer(self, *, accepted: bool) -> HttpResponse:
        # Alipay stops retrying only on the exact body "success".
        return HttpResponse(
            "success" if accepted else "fail",
            content_type="text/plain",
            status=200 if accepted else 400,
        )


def _money(value) -> Decimal | None:
    try:
        return Decimal(value).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError):
        return None


def _trade(data: dict) -> base.Notification:
    trade_status = data.get("trade_status", "")
    return base.Notification(
        reference=data.get("out_trade_no", ""),
        status=_STATES.get(trade_status, base.PENDING),
        transaction_id=data.get("trade_no", ""),
        amount=_money(data.get("total_amount")),
        trade_status=trade_status,
        payload=dict(data),
    )
