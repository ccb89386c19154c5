"""Files kept with a meeting's minutes, checked by their content."""

import logging
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from members.models import User
from members.services._common import audit_record, require_write
from organizations.models import Meeting, MeetingAttachment
from organizations.scope import Scope

logger = logging.getLogger(__name__)

# Accepted by their first bytes, not by the name or type the browser sent.
_SIGNATURES = {
    b"%PDF-": ("pdf", "application/pdf"),
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
}
# Office documents are zip files; their suffix says which kind.
_OFFICE = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_ZIP = b"PK\x03\x04"


def attach_file(
    *, actor: User, scope: Scope, meeting: Meeting, upload: IO[bytes], name: str
) -> MeetingAttachment:
    """Keep ``upload`` with the meeting's minutes (planned or held)."""
    require_write(scope, meeting.organization)
    if meeting.status == Meeting.Status.CANCELLED:
        raise ValidationError(_("This meeting was cancelled."), code="cancelled")
    suffix, content_type = _checked_type(upload, name)
    size = _checked_size(upload)

    with transaction.atomic():
        attachment = MeetingAttachment(
            meeting=meeting,
            name=_display_name(name, suffix),
            content_type=content_type,
            size=size,
            uploaded_by=actor,
        )
        attachment.file.save(f"upload.{suffix}", File(upload), save=False)
        attachment.save()
        audit_record(
            actor=actor,
            action="meeting.attachment_added",
            organization=meeting.organization,
            meeting=meeting.pk,
            attachment=attachment.pk,
        )
    logger.info("meeting attachment added meeting=%s size=%d", meeting.pk, size)
    return attachment


def remove_attachment(
    *, actor: User, scope: Scope, attachment: MeetingAttachment
) -> None:
    """Remove a file attached by mistake; the audit log keeps that it was."""
    meeting = attachment.meeting
    require_write(scope, meeting.organization)

    with transaction.atomic():
        audit_record(
            actor=actor,
            action="meeting.attachment_removed",
            organization=meeting.organization,
            meeting=meeting.pk,
            attachment=attachment.pk,
            name=attachment.name,
        )
        stored = attachment.file.name
        attachment.delete()
        # The file goes only once the row is gone for good.
        transaction.on_commit(lambda: attachment.file.storage.delete(stored))


def _checked_size(upload: IO[bytes]) -> int:
    upload.seek(0, 2)
    size = upload.tell()
    upload.seek(0)
    if size == 0:
        raise ValidationError(
            {"file": ValidationError(_("The file is empty."), code="empty")}
        )
    if size > settings.LIUDONG_MEETING_ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            {"file": ValidationError(_("The file is too large."), code="too_large")}
        )
    return size


def _checked_type(upload: IO[bytes], name: str) -> tuple[str, str]:
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    for magic, kind in _SIGNATURES.items():
        if head.startswith(magic):
            return kind
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if head.startswith(_ZIP) and suffix in _OFFICE:
        return suffix, _OFFICE[suffix]
    raise ValidationError(
        {
            "file": ValidationError(
                _("Attach a PDF, PNG, JPEG, Word, Excel or PowerPoint file."),
                code="file_type",
            )
        }
    )


def _display_name(name: str, suffix: str) -> str:
    # Only the last path part, without control characters, and with the
    # suffix the content proved.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip() or "attachment"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem[:200]}.{suffix}"
