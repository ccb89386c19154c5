"""The one interface every payment gateway answers to.

A gateway starts a payment (the URL to send the member to), turns a
callback into a verified :class:`Notification`, answers a query about an
order and refunds. The services never see a gateway's own vocabulary: each
adapter maps it onto the few states below.
"""

import abc
from dataclasses import dataclass, field
from decimal import Decimal

from django.http import HttpRequest, HttpResponse


class BadSignature(Exception):
    """A callback that fails its check or cannot be read: trust none of it."""


class GatewayError(Exception):
    """The gateway could not be reached or refused a request."""


# What a payment is at the gateway, whatever the gateway calls it.
PAID = "paid"
PENDING = "pending"
FAILED = "failed"
CLOSED = "closed"
NOT_FOUND = "not_found"
# A notice about a refund, not about the payment.
REFUND = "refund"


@dataclass(frozen=True)
class Notification:
    """A verified statement from the gateway about one order."""

    reference: str
    status: str
    transaction_id: str = ""
    amount: Decimal | None = None
    trade_status: str = ""
    payload: dict = field(default_factory=dict)


# A query answers with the same facts a callback carries.
QueryResult = Notification


@dataclass(frozen=True)
class RefundResult:
    """What the gateway said to a refund request."""

    succeeded: bool
    gateway_refund_id: str = ""
    pending: bool = False


class Gateway(abc.ABC):
    """A payment channel members pay through."""

    channel: str

    @abc.abstractmethod
    def start(self, order, return_url: str, **options) -> str:
        """Return the URL that takes the member to pay ``order``."""

    @abc.abstractmethod
    def parse_notification(self, request: HttpRequest) -> Notification:
        """Verify and read a callback; raise BadSignature if it is forged."""

    @abc.abstractmethod
    def query(self, order) -> QueryResult:
        """Ask the gateway what became of ``order``."""

    @abc.abstractmethod
    def refund(self, order, refund) -> RefundResult:
        """Return ``refund.amount`` of ``order`` to the payer."""

    @abc.abstractmethod
    def answer(self, *, accepted: bool) -> HttpResponse:
        """The reply the gateway expects to a callback."""


def to_fen_int(amount: Decimal) -> int:
    """Yuan as the whole number of fen WeChat Pay counts in."""
    return int((amount * 100).to_integral_exact())


def from_fen_int(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))
