"""Receipts: the PDF states the payment; the mail never costs a payment."""

import io
from decimal import Decimal
from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from pypdf import PdfReader

from dues.models import LedgerEntry
from dues.receipts import receipt_pdf
from tests.dues import arrange
from tests.dues.paying import FEB, JAN, open_order, pay, run_tasks_in_process

pytestmark = pytest.mark.django_db


class BrokenBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise SMTPException("connection refused")


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    run_tasks_in_process(settings)


@pytest.fixture
def owed(member, branch_a):
    return arrange.make_entries(member, branch_a, JAN, 4)


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_receipt_states_the_payment(member, owed):
    order = pay(
        open_order(
            member,
            [JAN, FEB],
            payer="on_behalf",
            payer_name="张父",
            voluntary_amount="3.00",
        )
    )

    text = _text(receipt_pdf(order))

    assert order.receipt_number in text
    assert "张三" in text
    assert member.masked_id_number in text
    assert member.id_number not in text
    assert "2026-01, 2026-02" in text
    assert "¥30.00" in text
    assert "¥3.00" in text
    assert "¥33.00" in text
    assert "张父" in text
    assert "第一支部" in text
    assert "Asia/Shanghai" in text


def test_the_receipt_is_mailed_after_the_payment_commits(
    member, owed, django_capture_on_commit_callbacks
):
    member.user.email = "zhangsan@example.com"
    member.user.save()
    order = open_order(member, [JAN])

    with django_capture_on_commit_callbacks(execute=True):
        order = pay(order)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["zhangsan@example.com"]
    assert order.receipt_number in message.subject
    assert order.receipt_number in message.body
    name, content, mimetype = message.attachments[0]
    assert (name, mimetype) == (
        f"receipt-{order.receipt_number}.pdf",
        "application/pdf",
    )
    assert order.receipt_number in _text(content)


def test_a_member_without_an_email_address_gets_no_mail(
    member, owed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        pay(open_order(member, [JAN]))

    assert mail.outbox == []


def test_a_failing_mail_server_never_loses_the_payment(
    member, owed, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"
    member.user.email = "zhangsan@example.com"
    member.user.save()
    order = open_order(member, [JAN])

    with django_capture_on_commit_callbacks(execute=True):
        order = pay(order)

    assert order.status == "paid"
    entry = LedgerEntry.objects.get(member=member, month=JAN)
    assert (entry.status, entry.paid_amount) == ("paid", Decimal("15.00"))
    assert "receipt mail failed" in caplog.text
