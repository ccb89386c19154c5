"""The member's dues pages: what is due, paying, orders and receipts.

Thin wrappers over ``dues.selectors`` and ``dues.services.payments``. Like
the rest of the portal, no URL carries a member id and no page may be
cached; an order or receipt reference is looked up among the caller's own
orders, so anyone else's answers 404.
"""

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from dues.forms import PayableMonth, PayForm, PayNowForm
from dues.gateways import GatewayError
from dues.models import LedgerEntry, PaymentOrder
from dues.receipts import receipt_pdf
from dues.selectors import inflow_collector, member_statement, open_orders_own
from dues.services.payments import open_order, start_payment
from members.models import Member
from members.views import member_page

# Paid months shown on the dues page; older ones are on the receipts.
PAID_HISTORY_MONTHS = 12


def _payable(statement) -> list[PayableMonth]:
    rows = [PayableMonth(e.month, e.amount_due, "arrears") for e in statement.arrears]
    current = statement.current
    if current is not None and current.status == LedgerEntry.Status.DUE:
        rows.append(PayableMonth(current.month, current.amount_due, "current"))
    return rows + _ahead(statement)


def _ahead(statement) -> list[PayableMonth]:
    """The months after this one a member may pay without approval.

    The ledger has rows only up to the current month (the service adds
    future ones when they are paid), so a month without a row is priced by
    the assessment in force then, as generating it would.
    """
    rows = {e.month: e for e in statement.ahead}
    settled = {e.month for e in statement.paid}
    assessments = list(
        statement.member.dues_assessments.order_by("-applies_from").only(
            "applies_from", "monthly_amount"
        )
    )
    months = []
    for count in range(1, settings.LIUDONG_DUES_MAX_AHEAD_MONTHS + 1):
        month = statement.current_month + relativedelta(months=count)
        if month in settled:
            continue
        if month in rows:
            amount = rows[month].amount_due
        else:
            amount = next(
                (a.monthly_amount for a in assessments if a.applies_from <= month),
                None,
            )
        if amount is None:
            break
        months.append(PayableMonth(month, amount, "ahead"))
    return months


def _own_order(member: Member, reference: str) -> PaymentOrder:
    orders = member.dues_orders.select_related("collected_by")
    return get_object_or_404(orders, reference=reference)


def _own_receipt(member: Member, reference: str) -> PaymentOrder:
    orders = member.dues_orders.filter(receipt_number__isnull=False)
    return get_object_or_404(
        orders.select_related("collected_by").prefetch_related("lines"),
        reference=reference,
    )


def _go_pay(request, order: PaymentOrder):
    """Send the member to the gateway; back to the order if it is down.

    The order is written either way, so paying from its page, or submitting
    the same months again, picks it up.
    """
    order_url = reverse("dues:order", kwargs={"reference": order.reference})
    try:
        url = start_payment(order, return_url=request.build_absolute_uri(order_url))
    except GatewayError:
        messages.error(
            request,
            _("The payment service cannot be reached. Please try again shortly."),
        )
        return redirect(order_url)
    return redirect(url)


def _after_open(request, order: PaymentOrder):
    if order.status == PaymentOrder.Status.AWAITING_APPROVAL:
        messages.info(
            request,
            _(
                "Your branch secretary must approve this payment first. Come "
                "back to this page to pay once it is approved."
            ),
        )
        return redirect("dues:order", reference=order.reference)
    if order.status == PaymentOrder.Status.PENDING:
        return _go_pay(request, order)
    return redirect("dues:order", reference=order.reference)


@member_page
@require_http_methods(["GET", "POST"])
def home(request, member):
    statement = member_statement(member)
    paid = statement.paid[:PAID_HISTORY_MONTHS]
    prefetch_related_objects(paid, "payment")
    inflow = inflow_collector(member)
    form = PayForm(
        request.POST if request.method == "POST" else None,
        payable=_payable(statement),
        inflow=inflow,
    )
    if request.method == "POST" and form.is_valid():
        try:
            order = open_order(
                actor=request.user, member=member, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            return _after_open(request, order)

    return render(
        request,
        "dues/home.html",
        {
            "member": member,
            "statement": statement,
            "form": form,
            "paid": paid,
            "open_orders": open_orders_own(member),
        },
    )


@member_page
@require_http_methods(["GET", "POST"])
def order_detail(request, member, reference):
    order = _own_order(member, reference)

    form = PayNowForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and order.status != PaymentOrder.Status.PENDING:
        messages.info(request, _("This order cannot be paid now."))
        return redirect("dues:order", reference=order.reference)
    if request.method == "POST" and form.is_valid():
        try:
            return _go_pay(request, order)
        except ValidationError as exc:
            form.add_service_error(exc)

    return render(
        request,
        "dues/order.html",
        {"order": order, "lines": order.lines.all(), "form": form},
    )


@member_page
@require_GET
def receipt(request, member, reference):
    order = _own_receipt(member, reference)
    return render(
        request,
        "dues/receipt.html",
        {"member": member, "order": order, "lines": order.lines.all()},
    )


@member_page
@require_GET
def receipt_download(request, member, reference):
    order = _own_receipt(member, reference)
    response = HttpResponse(receipt_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="receipt-{order.receipt_number}.pdf"'
    )
    return response
