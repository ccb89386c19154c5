"""Dues receipts: the PDF a member downloads and the mail that carries it.

Rendering only; who may download a receipt is the portal's and the admin's
business. The ID number is always masked: a receipt travels by mail.
"""

import io
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dues.models import PaymentOrder
from organizations.pdf import cjk_font, escape_markup, pdf_styles

logger = logging.getLogger(__name__)


def _yuan(amount) -> str:
    return f"¥{amount:.2f}"


def _months(order: PaymentOrder) -> str:
    return ", ".join(f"{m:%Y-%m}" for m in sorted(order.months))


def _payer(order: PaymentOrder) -> str:
    label = str(order.get_payer_display())
    return f"{label}: {order.payer_name}" if order.payer_name else label


def receipt_rows(order: PaymentOrder) -> list[tuple[str, str]]:
    """The facts a receipt states, as (label, value) pairs."""
    paid_at = timezone.localtime(order.paid_at) if order.paid_at else None
    dues = order.amount - order.voluntary_amount
    rows = [
        (pgettext("dues receipt", "Receipt number"), order.receipt_number or "—"),
        (pgettext("dues receipt", "Order number"), order.reference),
        (pgettext("dues receipt", "Member"), order.member.name),
        (pgettext("dues receipt", "ID number"), order.member.masked_id_number),
        (pgettext("dues receipt", "Months"), _months(order)),
        (pgettext("dues receipt", "Dues"), _yuan(dues)),
        (pgettext("dues receipt", "Paid voluntarily"), _yuan(order.voluntary_amount)),
        (pgettext("dues receipt", "Total"), _yuan(order.amount)),
        (pgettext("dues receipt", "Paid by"), _payer(order)),
        (pgettext("dues receipt", "Channel"), str(order.get_channel_display())),
        (pgettext("dues receipt", "Collected by"), order.collected_by.name),
        (
            pgettext("dues receipt", "Paid at"),
            f"{paid_at:%Y-%m-%d %H:%M} ({settings.TIME_ZONE})" if paid_at else "—",
        ),
    ]
    if order.refunded_amount:
        rows.append(
            (pgettext("dues receipt", "Refunded"), _yuan(order.refunded_amount))
        )
    return rows


def receipt_pdf(order: PaymentOrder) -> bytes:
    """Draw the receipt of a paid order as a PDF."""
    cjk_font()
    styles = pdf_styles()
    cells = [
        [
            Paragraph(label, styles["body"]),
            Paragraph(escape_markup(value), styles["body"]),
        ]
        for label, value in receipt_rows(order)
    ]
    table = Table(cells, colWidths=[38 * mm, 130 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story = [
        Paragraph(pgettext("dues receipt", "Party dues receipt"), styles["title"]),
        Spacer(1, 4 * mm),
        table,
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=landscape(A5),
        title=order.receipt_number or order.reference,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        author="",
        creator="",
    ).build(story)
    return buffer.getvalue()


def send_receipt(order: PaymentOrder) -> bool:
    """Mail the receipt to the member's account address, if there is one."""
    user = order.member.user
    if user is None or not user.email or order.receipt_number is None:
        return False
    body = render_to_string(
        "dues/receipt_email.txt", {"order": order, "rows": receipt_rows(order)}
    )
    message = EmailMessage(
        subject=pgettext("dues receipt", "Party dues receipt %(number)s")
        % {"number": order.receipt_number},
        body=body,
        to=[user.email],
    )
    message.attach(
        f"receipt-{order.receipt_number}.pdf", receipt_pdf(order), "application/pdf"
    )
    message.send()
    logger.info("dues receipt mailed order=%s", order.reference)
    return True
