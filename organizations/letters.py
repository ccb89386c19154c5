"""The printable transfer letter (介绍信), its verification code and scans.

Rendering only: the letter is drawn from the snapshot the services took at
issue. Downloads of a letter or of the scan of a letter from outside are
access-checked here and recorded in the audit trail, because both carry a
member's personal data.
"""

import base64
import datetime
import io
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, HttpResponse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from members.models import Member, User
from members.services import audit_record
from organizations.models import Organization, Transfer, TransferState
from organizations.pdf import escape_markup, pdf_styles
from organizations.scope import OutOfScope, Scope, scope_for
from organizations.selectors import transfer_list

logger = logging.getLogger(__name__)

CODE_LENGTH = 10
_CODE_SALT = "liudong.organizations.letters.code"
# Look-alikes a person may type when copying the code off paper; the code
# itself is base32 (A-Z, 2-7), which has neither 0, 1 nor 8.
_TYPED_AS = str.maketrans({"0": "O", "1": "I", "8": "B"})
# Letters in these states are not (or no longer) a valid letter: the print
# says so across its head.
_VALID_STATES = (
    TransferState.ISSUED,
    TransferState.ACCEPTED,
    TransferState.REPORTED,
    TransferState.RECEIPT_RETURNED,
)
_SCAN_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}


@dataclass(frozen=True)
class Letter:
    """A rendered letter, ready to send."""

    content: bytes
    filename: str
    masked: bool


# Verification code


def _code_for(transfer: Transfer, secret: str) -> str:
    digest = salted_hmac(
        _CODE_SALT,
        f"{transfer.pk}:{transfer.number}",
        secret=secret,
        algorithm="sha256",
    ).digest()
    return base64.b32encode(digest).decode()[:CODE_LENGTH]


def letter_code(transfer: Transfer) -> str:
    """The verification code printed on ``transfer``'s letter."""
    return _code_for(transfer, settings.SECRET_KEY)


def format_code(code: str) -> str:
    """Split a code in two groups of five, as printed."""
    return f"{code[:5]}-{code[5:]}"


def letter_code_matches(transfer: Transfer, code: str) -> bool:
    """Whether ``code``, as typed off paper, is ``transfer``'s code."""
    typed = "".join(code.upper().split()).replace("-", "").translate(_TYPED_AS)
    # Letters printed before a key rotation still verify while the old key
    # is kept among the fallbacks.
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(constant_time_compare(typed, _code_for(transfer, s)) for s in secrets)


def letter_verify(*, number: str, code: str) -> Transfer | None:
    """The letter with ``number`` if ``code`` is its code, else None."""
    transfer = (
        Transfer.objects.select_related("from_organization", "to_organization")
        .filter(number=number.strip())
        .first()
    )
    if transfer is None or not letter_code_matches(transfer, code):
        return None
    return transfer


# Access


def _sides(transfer: Transfer) -> list[Organization]:
    return [o for o in (transfer.from_organization, transfer.to_organization) if o]


def _require_side(scope: Scope, transfer: Transfer) -> None:
    # The sending and the receiving side only: a member follows their letter
    # in the portal but does not download it.
    if scope.is_operator:
        return
    if not transfer_list(scope=scope).filter(pk=transfer.pk).exists():
        raise OutOfScope()


def sees_full_id(scope: Scope, transfer: Transfer) -> bool:
    """Whether the scope may see the letter's ID number unmasked."""
    return any(scope.sees_full_ids(o) for o in _sides(transfer))


# The PDF
#
# Every string of the letter has the context "transfer letter": short words
# such as "Name" or "Phone" otherwise take whatever translation another
# app's catalogue gives them.


def _issuer_name(organization: Organization | None) -> str:
    """The nearest committee at or above ``organization``: it seals letters."""
    if organization is None:
        return ""
    committees = (
        Organization.Kind.COMMITTEE,
        Organization.Kind.WORKING_COMMITTEE,
    )
    if organization.kind in committees:
        return organization.name
    ancestor = (
        Organization.objects.get_ancestors(organization)
        .filter(kind__in=committees)
        .order_by("-depth")
        .first()
    )
    return (ancestor or organization).name


def _date(day: datetime.date | None) -> str:
    return day.isoformat() if day else "—"


def _month(day: datetime.date | None) -> str:
    return f"{day:%Y-%m}" if day else "—"


def _rows(transfer: Transfer, *, full_id: bool) -> list[tuple[str, str]]:
    status = (
        Member.Status.PROBATIONARY if transfer.is_probationary else Member.Status.FULL
    )
    validity = pgettext("transfer letter", "%(days)s days, until %(date)s") % {
        "days": transfer.validity_days,
        "date": _date(transfer.valid_until),
    }
    return [
        (pgettext("transfer letter", "Letter number"), transfer.number),
        (pgettext("transfer letter", "Name"), transfer.name),
        (
            pgettext("transfer letter", "Gender"),
            str(Member.Gender(transfer.gender).label),
        ),
        (
            pgettext("transfer letter", "Age"),
            str(transfer.age) if transfer.age is not None else "—",
        ),
        (
            pgettext("transfer letter", "Ethnicity"),
            transfer.ethnicity.name if transfer.ethnicity else "—",
        ),
        (pgettext("transfer letter", "Membership"), str(status.label)),
        (
            pgettext("transfer letter", "ID number"),
            transfer.id_number if full_id else transfer.masked_id_number,
        ),
        (
            pgettext("transfer letter", "From"),
            _party(transfer.from_organization, transfer.from_external),
        ),
        (
            pgettext("transfer letter", "To"),
            _party(transfer.to_organization, transfer.to_external),
        ),
        (
            pgettext("transfer letter", "Dues paid through"),
            _month(transfer.dues_paid_through),
        ),
        (pgettext("transfer letter", "Issued on"), _date(transfer.issued_on)),
        (pgettext("transfer letter", "Valid for"), validity),
        (
            pgettext("transfer letter", "Issued by"),
            _issuer_name(transfer.from_organization) or "—",
        ),
        (pgettext("transfer letter", "Address"), transfer.issuer_address or "—"),
        (pgettext("transfer letter", "Phone"), transfer.issuer_phone or "—"),
    ]


def _party(organization: Organization | None, external: str) -> str:
    return organization.name if organization else external


def _table(rows: list[tuple[str, str]], styles) -> Table:
    cells = [
        [Paragraph(label, styles["body"]), Paragraph(value, styles["body"])]
        for label, value in rows
    ]
    table = Table(cells, colWidths=[40 * mm, 120 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _letter_part(transfer: Transfer, styles, *, full_id: bool) -> list:
    rows = [
        (label, escape_markup(value))
        for label, value in _rows(transfer, full_id=full_id)
    ]
    to = _party(transfer.to_organization, transfer.to_external)
    code = format_code(letter_code(transfer))
    part = []
    if transfer.state not in _VALID_STATES:
        void = pgettext("transfer letter", "Not a valid letter: %(state)s")
        part.append(
            Paragraph(void % {"state": transfer.get_state_display()}, styles["void"])
        )
    return [
        *part,
        Paragraph(
            pgettext(
                "transfer letter", "Letter of introduction for a member's transfer"
            ),
            styles["title"],
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            escape_markup(
                pgettext(
                    "transfer letter", "To %(to)s: please receive the member below."
                )
                % {"to": to}
            ),
            styles["body"],
        ),
        Spacer(1, 3 * mm),
        _table(rows, styles),
        Spacer(1, 3 * mm),
        Paragraph(
            pgettext("transfer letter", "Verification code: %(code)s") % {"code": code},
            styles["body"],
        ),
        Paragraph(
            _(
                "The code proves this letter was issued through the system; "
                "the receiving organization checks it with the letter number."
            ),
            styles["small"],
        ),
    ]


def _receipt_part(transfer: Transfer, styles) -> list:
    text = _(
        "To %(from)s: the membership relationship of %(name)s, "
        "letter number %(number)s, has been received."
    ) % {
        "from": _party(transfer.from_organization, transfer.from_external),
        "name": transfer.name,
        "number": transfer.number,
    }
    return [
        Paragraph("- " * 45, styles["small"]),
        Paragraph(pgettext("transfer letter", "Receipt"), styles["heading"]),
        Spacer(1, 3 * mm),
        Paragraph(escape_markup(text), styles["body"]),
        Spacer(1, 8 * mm),
        Paragraph(
            pgettext(
                "transfer letter",
                "Receiving organization (seal): ______________  Date: __________",
            ),
            styles["body"],
        ),
    ]


def letter_render(transfer: Transfer, *, full_id: bool) -> bytes:
    """Draw ``transfer``'s letter and its receipt (回执) as a PDF."""
    styles = pdf_styles()
    story = [
        *_letter_part(transfer, styles, full_id=full_id),
        Spacer(1, 10 * mm),
        *_receipt_part(transfer, styles),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=transfer.number,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        # No author or creator: the file leaves the system.
        author="",
        creator="",
    )
    document.build(story)
    return buffer.getvalue()


# Downloads


@transaction.atomic
def letter_download(*, actor: User, transfer: Transfer) -> Letter:
    """Render the letter for one of its two sides, and record the download."""
    scope = scope_for(actor)
    _require_side(scope, transfer)
    full_id = sees_full_id(scope, transfer)

    content = letter_render(transfer, full_id=full_id)

    audit_record(
        actor=actor,
        action="transfer.letter",
        member=transfer.member,
        organization=transfer.from_organization or transfer.to_organization,
        transfer_id=transfer.pk,
        masked=not full_id,
    )
    logger.info(
        "transfer letter downloaded transfer_id=%s actor_id=%s masked=%s",
        transfer.pk,
        actor.pk,
        not full_id,
    )
    return Letter(
        content=content, filename=f"letter-{transfer.number}.pdf", masked=not full_id
    )


@transaction.atomic
def letter_scan_open(*, actor: User, transfer: Transfer):
    """Open the scan of a letter from outside, for a side allowed full IDs."""
    scope = scope_for(actor)
    _require_side(scope, transfer)
    if not transfer.letter_scan:
        raise OutOfScope()
    # The scan shows the full ID number, which no mask can hide.
    if not sees_full_id(scope, transfer):
        raise PermissionDenied(_("Your role does not allow full ID numbers."))

    handle = transfer.letter_scan.open("rb")

    audit_record(
        actor=actor,
        action="transfer.scan",
        member=transfer.member,
        organization=transfer.to_organization or transfer.from_organization,
        transfer_id=transfer.pk,
    )
    logger.info(
        "transfer scan downloaded transfer_id=%s actor_id=%s", transfer.pk, actor.pk
    )
    return handle


def _private(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    return response


def letter_response(letter: Letter) -> HttpResponse:
    """The letter as a download that no browser or proxy keeps."""
    response = HttpResponse(letter.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{letter.filename}"'
    return _private(response)


def scan_response(transfer: Transfer, handle) -> FileResponse:
    """A scan as a download, never rendered inline by the browser."""
    suffix = transfer.letter_scan.name.rsplit(".", 1)[-1].lower()
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"letter-{transfer.number}-scan.{suffix}",
        content_type=_SCAN_TYPES.get(suffix, "application/octet-stream"),
    )
    return _private(response)
