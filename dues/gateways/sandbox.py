"""The sandbox gateway: a stand-in payment provider for demo and tests.

It behaves like a real one where it matters: the member pays on a page we
do not control (``/pay/sandbox/<reference>/``), the result arrives as an
HMAC-SHA256 signed callback, the gateway keeps its own record of each
transaction (in the cache, as a provider keeps its own books) and answers
queries from it. Tests may lose the callback with :func:`callbacks_lost`,
so that only reconciliation can settle the order.
"""

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from dues.gateways import base

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_X_SANDBOX_SIGNATURE"
_STATE_SECONDS = 14 * 24 * 3600
_lost = {"callbacks": False}


@contextlib.contextmanager
def callbacks_lost():
    """Within the block, payments succeed but their callbacks never arrive."""
    _lost["callbacks"] = True
    try:
        yield
    finally:
        _lost["callbacks"] = False


def canonical_body(payload: dict) -> bytes:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def sign(body: bytes, secret: str | None = None) -> str:
    key = (secret or settings.LIUDONG_DUES_SANDBOX_SECRET).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _state_key(reference: str) -> str:
    return f"dues.sandbox.{reference}"


def state(reference: str) -> dict | None:
    """What the sandbox knows about the order ``reference``."""
    return cache.get(_state_key(reference))


def _save(reference: str, record: dict) -> None:
    cache.set(_state_key(reference), record, _STATE_SECONDS)


class SandboxGateway(base.Gateway):
    channel = "sandbox"

    def start(self, order, return_url: str, **options) -> str:
        record = state(order.reference) or {"status": base.PENDING}
        record.update(amount=str(order.amount), return_url=return_url)
        _save(order.reference, record)
        return reverse("pay:sandbox", args=[order.reference])

    def parse_notification(self, request: HttpRequest) -> base.Notification:
        body = request.body
        signature = request.META.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(sign(body), signature):
            raise base.BadSignature("sandbox signature does not match")
        # A signed body can still be unreadable (a bug on the sender's side,
        # or the public default secret in a demo): refuse it like a forgery.
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
            return _notification(payload)
        except (ValueError, ArithmeticError) as exc:
            raise base.BadSignature(f"sandbox body unreadable: {exc}") from None

    def query(self, order) -> base.QueryResult:
        record = state(order.reference)
        if record is None:
            return base.QueryResult(reference=order.reference, status=base.NOT_FOUND)
        return _notification(
            {
                "reference": order.reference,
                "status": record["status"],
                "transaction_id": record.get("transaction_id", ""),
                "amount": record.get("amount"),
            }
        )

    def refund(self, order, refund) -> base.RefundResult:
        record = state(order.reference) or {}
        refunds = record.setdefault("refunds", {})
        refund_id = refunds.get(refund.reference) or f"SBR{secrets.token_hex(8)}"
        refunds[refund.reference] = refund_id
        _save(order.reference, record)
        return base.RefundResult(succeeded=True, gateway_refund_id=refund_id)

    def answer(self, *, accepted: bool) -> HttpResponse:
        if accepted:
            return JsonResponse({"result": "ok"})
        return JsonResponse({"result": "rejected"}, status=400)


def _notification(payload: dict) -> base.Notification:
    amount = payload.get("amount")
    if amount is not None:
        amount = Decimal(str(amount))
        if not amount.is_finite():
            raise ValueError("amount is not a number")
    return base.Notification(
        reference=str(payload.get("reference", "")),
        status=str(payload.get("status", "")),
        transaction_id=str(payload.get("transaction_id", "")),
        amount=amount,
        trade_status=str(payload.get("status", "")),
        payload=payload,
    )


def notification_request(payload: dict, *, secret: str | None = None) -> HttpRequest:
    """A callback request as the sandbox sends it, signed with ``secret``."""
    body = canonical_body(payload)
    path = reverse("pay:callback", args=["sandbox"])
    return RequestFactory().post(
        path,
        data=body,
        content_type="application/json",
        **{SIGNATURE_HEADER: sign(body, secret)},
    )


def simulate(order, *, succeed: bool) -> str:
    """The member pays (or fails) on the sandbox page; return where to go."""
    record = state(order.reference) or {"amount": str(order.amount)}
    if record.get("status") != base.PAID:
        record["status"] = base.PAID if succeed else base.FAILED
        if succeed:
            record["transaction_id"] = (
                f"SB{timezone.now():%Y%m%d}{secrets.token_hex(8)}"
            )
        _save(order.reference, record)

    payload = {
        "reference": order.reference,
        "status": record["status"],
        "transaction_id": record.get("transaction_id", ""),
        "amount": record["amount"],
    }
    if _lost["callbacks"]:
        logger.info("sandbox callback lost on purpose order=%s", order.reference)
    else:
        deliver(payload)
    return record.get("return_url") or "/"


def deliver(payload: dict):
    """Send a signed callback to our own handler, in this process."""
    from dues.services import payments

    return payments.handle_notification("sandbox", notification_request(payload))
