"""Telling members of their invitations, through a pluggable notifier.

``LIUDONG_NOTIFIER`` names it: ``console`` logs the message (development),
``mail`` sends it to the member's e-mail address, and a dotted path names
any class whose ``send(message)`` reaches an SMS provider.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    member_id: int
    email: str
    phone: str
    subject: str
    body: str


class ConsoleNotifier:
    """Logs each message: what development and the demo use."""

    def send(self, message: Message) -> None:
        logger.info(
            "notification member=%s subject=%s body=%s",
            message.member_id,
            message.subject,
            message.body.replace("\n", " / "),
        )


class MailNotifier:
    """Mails members who have an address; the others are skipped, logged."""

    def send(self, message: Message) -> None:
        if not message.email:
            logger.info("notification skipped member=%s no_email", message.member_id)
            return
        send_mail(
            message.subject,
            message.body,
            settings.DEFAULT_FROM_EMAIL,
            [message.email],
        )


_NAMED = {"console": ConsoleNotifier, "mail": MailNotifier}


def get_notifier():
    name = settings.LIUDONG_NOTIFIER
    notifier_class = _NAMED.get(name) or import_string(name)
    return notifier_class()
