"""Files kept with a meeting's minutes: checked by content, downloaded only
by those who read the meeting, removed with a trace."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from members.models import AuditEvent
from organizations.meetings import services
from organizations.models import MeetingAttachment
from organizations.scope import ReadOnlyScope, scope_for
from tests.meetings.arrange import plan

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def meeting(branch_a, member, secretary_of_a):
    return plan(branch_a, secretary_of_a)


def attach(meeting, actor, content=PDF, name="签到表.pdf"):
    return services.attach_file(
        actor=actor,
        scope=scope_for(actor),
        meeting=meeting,
        upload=io.BytesIO(content),
        name=name,
    )


def test_a_pdf_is_kept_under_a_server_chosen_name(meeting, secretary_of_a):
    attachment = attach(meeting, secretary_of_a, name="../../etc/签到表.pdf")

    assert attachment.name == "签到表.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(PDF)
    assert "签到表" not in attachment.file.name
    assert attachment.file.read() == PDF


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"<script>alert(1)</script>", "minutes.pdf"),  # a name is no proof
        (b"PK\x03\x04rest", "archive.zip"),  # a zip that is no office file
        (b"", "empty.pdf"),
    ],
)
def test_other_content_is_refused_and_nothing_kept(
    meeting, secretary_of_a, content, name
):
    with pytest.raises(ValidationError) as error:
        attach(meeting, secretary_of_a, content=content, name=name)

    assert "file" in error.value.message_dict
    assert not MeetingAttachment.objects.exists()


def test_a_file_above_the_limit_is_refused(meeting, secretary_of_a, settings):
    settings.LIUDONG_MEETING_ATTACHMENT_MAX_BYTES = len(PDF) - 1

    with pytest.raises(ValidationError):
        attach(meeting, secretary_of_a)

    assert not MeetingAttachment.objects.exists()


def test_an_office_document_is_taken_by_its_suffix(meeting, secretary_of_a):
    attachment = attach(meeting, secretary_of_a, content=b"PK\x03\x04..", name="a.docx")

    assert attachment.name == "a.docx"
    assert attachment.content_type.endswith("wordprocessingml.document")


def test_only_a_writer_of_the_organisation_attaches(
    meeting, secretary_of_b, provincial_viewer
):
    with pytest.raises(Exception) as other_branch:
        attach(meeting, secretary_of_b)
    with pytest.raises(ReadOnlyScope):
        attach(meeting, provincial_viewer)

    assert other_branch.value.__class__.__name__ == "OutOfScope"
    assert not MeetingAttachment.objects.exists()


def _download_url(attachment):
    return reverse(
        "admin:organizations_meeting_attachment",
        args=[attachment.meeting_id, attachment.pk],
    )


def test_the_admin_attaches_lists_and_downloads(client, meeting, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:organizations_meeting_step", args=[meeting.pk, "attach"]),
        {"file": SimpleUploadedFile("议程.pdf", PDF, content_type="text/html")},
    )

    assert response.status_code == 302
    attachment = MeetingAttachment.objects.get()
    page = client.get(reverse("admin:organizations_meeting_change", args=[meeting.pk]))
    assert "议程.pdf" in page.content.decode()
    download = client.get(_download_url(attachment))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == PDF
    assert AuditEvent.objects.filter(action="meeting.attachment_download").exists()


def test_a_bad_upload_is_a_form_error(client, meeting, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:organizations_meeting_step", args=[meeting.pk, "attach"]),
        {
            "file": SimpleUploadedFile(
                "x.pdf", b"MZ\x90\x00", content_type="application/pdf"
            )
        },
    )

    assert response.status_code == 200
    assert not MeetingAttachment.objects.exists()


def test_another_branch_cannot_download_and_a_viewer_cannot_remove(
    client, meeting, secretary_of_a, secretary_of_b, provincial_viewer
):
    attachment = attach(meeting, secretary_of_a)
    remove_url = reverse(
        "admin:organizations_meeting_attachment_remove",
        args=[meeting.pk, attachment.pk],
    )

    client.force_login(secretary_of_b)
    assert client.get(_download_url(attachment)).status_code == 404
    assert client.post(remove_url).status_code == 404
    client.force_login(provincial_viewer)
    assert client.get(_download_url(attachment)).status_code == 200
    assert client.post(remove_url).status_code == 403
    assert MeetingAttachment.objects.filter(pk=attachment.pk).exists()


def test_the_secretary_removes_a_file_with_a_trace(
    client, meeting, secretary_of_a, django_capture_on_commit_callbacks
):
    attachment = attach(meeting, secretary_of_a)
    stored = attachment.file.name
    client.force_login(secretary_of_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse(
                "admin:organizations_meeting_attachment_remove",
                args=[meeting.pk, attachment.pk],
            )
        )

    assert response.status_code == 302
    assert not MeetingAttachment.objects.exists()
    assert not attachment.file.storage.exists(stored)
    assert AuditEvent.objects.filter(action="meeting.attachment_removed").exists()
