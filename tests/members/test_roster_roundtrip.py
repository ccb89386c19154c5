"""An export with full ID numbers imports back without errors or changes."""

import datetime
import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from members import roster
from members.models import Member, RosterImport
from members.roster import importer
from tests import factories

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TODAY = datetime.date(2026, 12, 3)
EXPORT_URL = reverse("admin:members_member_export")
QUERIES = {"csv": "", "csv-gbk": "?encoding=gbk", "xlsx": "?format=xlsx"}


@pytest.fixture(autouse=True)
def _media_and_today(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(importer, "timezone", SimpleNamespace(localdate=lambda: TODAY))


@pytest.fixture
def roster_of_a(branch_a):
    # Members as imports make them (every column the samples carry, names
    # with a middle dot, 15-digit numbers converted, lower-case x), plus
    # members entered by hand with few fields.
    for name in ("roster_clean.xlsx", "roster_excel_gbk.csv", "roster_legacy.csv"):
        roster.commit(
            file=SAMPLES / name, organization=branch_a, actor=None, today=TODAY
        )
    factories.make_member(branch_a, name="张三", phone="13800138000")
    factories.make_member(branch_a, name="𠮷田", gender="female")
    return Member.objects.count()


def exported(client, user, query) -> bytes:
    client.force_login(user)
    response = client.get(EXPORT_URL + query)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_an_export_by_the_branch_secretary_previews_back_as_all_unchanged(
    client, branch_a, secretary_of_a, roster_of_a, query
):
    content = exported(client, secretary_of_a, query)

    report = roster.preview(
        file=io.BytesIO(content), organization=branch_a, actor=secretary_of_a
    )

    assert report.errors == []
    assert (report.rows, report.valid, len(report.unchanged)) == (
        roster_of_a,
        0,
        roster_of_a,
    )


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_an_export_uploaded_in_the_admin_changes_nothing(
    client, branch_a, secretary_of_a, roster_of_a, query
):
    content = exported(client, secretary_of_a, query)
    before = sorted(Member.objects.values_list("pk", "updated_at"))
    suffix = "xlsx" if "xlsx" in query else "csv"

    client.post(
        reverse("admin:members_rosterimport_add"),
        {
            "file": SimpleUploadedFile(f"export.{suffix}", content),
            "organization": branch_a.pk,
            "all_or_nothing": "yes",
        },
    )
    job = RosterImport.objects.get()
    client.post(reverse("admin:members_rosterimport_commit", args=[job.pk]))

    job.refresh_from_db()
    assert (job.error_count, job.valid, job.unchanged) == (0, 0, roster_of_a)
    assert sorted(Member.objects.values_list("pk", "updated_at")) == before


def test_a_masked_export_does_not_import_back(
    client, branch_a, province_a, secretary_of_a, roster_of_a
):
    # A provincial viewer's export masks ID numbers: it is no roster to
    # import, and the import says so row by row instead of guessing.
    viewer = factories.make_user("viewer", is_staff=True)
    factories.make_role(viewer, province_a, "provincial_viewer")
    content = exported(client, viewer, "?format=xlsx")

    report = roster.preview(
        file=io.BytesIO(content), organization=branch_a, actor=secretary_of_a
    )

    assert report.valid == 0
    assert [e.code for e in report.errors].count("id_format") == roster_of_a
    assert {e.code for e in report.errors} == {"id_format", "phone_invalid"}
