"""Gateway callbacks and the sandbox's simulated payment page.

Thin views: the services verify, settle and record; these translate between
HTTP and them, and answer each gateway in the form it expects.
"""

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from dues.gateways import GatewayError, available, get_gateway, sandbox
from dues.models import GatewayNotification, PaymentOrder
from dues.services import payments

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def callback(request: HttpRequest, channel: str) -> HttpResponse:
    """Receive a gateway's notification about a payment."""
    if not available(channel):
        raise Http404
    try:
        notification = payments.handle_notification(channel, request)
    except GatewayError as exc:
        # A channel this deployment has not configured has no callbacks.
        logger.warning("dues callback for an unconfigured channel=%s: %s", channel, exc)
        raise Http404 from None
    accepted = notification.outcome != GatewayNotification.Outcome.BAD_SIGNATURE
    return get_gateway(channel).answer(accepted=accepted)


@require_http_methods(["GET", "POST"])
def sandbox_page(request: HttpRequest, reference: str) -> HttpResponse:
    """The sandbox gateway's own page, where the member pays or fails."""
    # It stands for a provider's page: the unguessable order number is the
    # only key, as with a real gateway's payment link.
    if settings.PRODUCTION:
        raise Http404
    order = get_object_or_404(
        PaymentOrder.objects.select_related("collected_by"),
        reference=reference,
        channel=PaymentOrder.Channel.SANDBOX,
    )
    if request.method == "POST" and order.status == PaymentOrder.Status.PENDING:
        succeed = request.POST.get("action") == "pay"
        return redirect(_safe(request, sandbox.simulate(order, succeed=succeed)))
    return render(request, "dues/sandbox_pay.html", {"order": order})


def _safe(request: HttpRequest, url: str) -> str:
    allowed = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if allowed else "/"
