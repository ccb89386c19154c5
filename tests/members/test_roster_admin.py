"""The roster import in the admin: upload, preview, commit, report, scope."""

import datetime
import io
import json
import re
import stat
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from members import imports
from members.identity import mask
from members.models import AuditEvent, Member, RosterImport
from members.roster import importer
from tests import factories

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
EXPECTED = sorted(SAMPLES.glob("*.expected.json"))
# The day the samples were written (see test_roster_samples).
TODAY = datetime.date(2026, 12, 3)
ADD_URL = reverse("admin:members_rosterimport_add")
LIST_URL = reverse("admin:members_rosterimport_changelist")


@pytest.fixture(autouse=True)
def _english(client):
    # The assertions read the English msgids; the catalog translates them.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media_and_today(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(importer, "timezone", SimpleNamespace(localdate=lambda: TODAY))


@pytest.fixture
def sample_branch(db):
    return factories.make_organization(code="SAMPLE", region="430104", name="样本支部")


@pytest.fixture
def sample_secretary(sample_branch):
    user = factories.make_user("sec_sample", is_staff=True)
    factories.make_role(user, sample_branch, "secretary")
    return user


def sample(path):
    expected = json.loads(path.read_text(encoding="utf-8"))
    return SAMPLES / path.name.removesuffix(".expected.json"), expected


def upload(
    client, user, organization, path=None, *, content=None, name=None, aon=False
):
    client.force_login(user)
    content = path.read_bytes() if content is None else content
    return client.post(
        ADD_URL,
        {
            "file": SimpleUploadedFile(name or path.name, content),
            "organization": organization.pk,
            "all_or_nothing": "yes" if aon else "no",
        },
    )


def uploaded(client, user, organization, path=None, **kw) -> RosterImport:
    response = upload(client, user, organization, path, **kw)
    assert response.status_code == 302
    return RosterImport.objects.get(pk=response["Location"].split("/")[-3])


def commit(client, job):
    return client.post(reverse("admin:members_rosterimport_commit", args=[job.pk]))


def job_url(job, name="change"):
    return reverse(f"admin:members_rosterimport_{name}", args=[job.pk])


def issue_keys(job, kind="errors"):
    return [(i["row"], i["column"], i["code"]) for i in imports.report_of(job)[kind]]


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.name)
def test_a_sample_previews_in_the_admin_with_its_expected_report(
    path, client, sample_branch, sample_secretary
):
    file, expected = sample(path)

    job = uploaded(client, sample_secretary, sample_branch, file)

    assert (job.step, job.status, job.in_background) == ("preview", "done", False)
    assert (job.valid, job.error_count, job.warning_count) == (
        expected["imported"],
        len(expected["errors"]),
        len(expected.get("warnings", [])),
    )
    assert issue_keys(job) == [
        (e["row"], e["column"], e["code"]) for e in expected["errors"]
    ]
    assert Member.objects.count() == 0


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.name)
def test_a_sample_commits_in_the_admin_with_its_expected_count(
    path, client, sample_branch, sample_secretary
):
    file, expected = sample(path)
    job = uploaded(client, sample_secretary, sample_branch, file)

    response = commit(client, job)

    job.refresh_from_db()
    assert response["Location"] == job_url(job)
    assert (job.step, job.status, job.imported) == (
        "commit",
        "done",
        expected["imported"],
    )
    assert sorted(Member.objects.values_list("id_number", flat=True)) == sorted(
        m["id_number"] for m in expected["members"]
    )


def test_the_preview_page_shows_the_counts_the_issues_and_the_commit_button(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client, sample_secretary, sample_branch, SAMPLES / "roster_damaged.xlsx"
    )

    html = client.get(job_url(job)).content.decode()

    assert '<td data-testid="count-valid">11</td>' in html
    assert '<td data-testid="count-errors">11</td>' in html
    assert 'data-testid="commit" value="Import 11 members"' in html
    assert "id_scientific_notation" in html
    assert job_url(job, "report") in html


def test_the_page_masks_id_numbers_and_phones_in_the_values_as_given(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client, sample_secretary, sample_branch, SAMPLES / "roster_damaged.xlsx"
    )
    secret = [
        e
        for e in imports.report_of(job)["errors"]
        if e["code"] in {"id_checksum", "phone_invalid", "id_scientific_notation"}
    ]

    html = client.get(job_url(job)).content.decode()

    assert len(secret) >= 2
    for error in secret:
        assert error["value"] not in html
        assert f"<code>{mask(error['value'])}</code>" in html


def test_the_report_keeps_the_values_as_given_encrypted(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client, sample_secretary, sample_branch, SAMPLES / "roster_damaged.xlsx"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT report FROM members_rosterimport WHERE id = %s", [job.pk]
        )
        stored = cursor.fetchone()[0]

    values = [e["value"] for e in imports.report_of(job)["errors"]]
    assert "5.306261961111957e+17" in values
    assert stored.startswith("dev1$")
    assert "5.306261961111957e+17" not in stored


def test_all_or_nothing_with_a_failing_row_offers_no_commit_and_writes_nothing(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client,
        sample_secretary,
        sample_branch,
        SAMPLES / "roster_damaged.xlsx",
        aon=True,
    )
    html = client.get(job_url(job)).content.decode()

    commit(client, job)

    job.refresh_from_db()
    assert 'data-testid="commit"' not in html
    assert "nothing would be imported" in html
    assert (job.step, job.status, job.imported) == ("commit", "done", 0)
    assert Member.objects.count() == 0


def test_all_or_nothing_with_every_row_valid_imports_everything(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client, sample_secretary, sample_branch, SAMPLES / "roster_clean.xlsx", aon=True
    )

    commit(client, job)

    job.refresh_from_db()
    assert job.imported == 25
    assert Member.objects.count() == 25


def test_uploading_the_same_file_again_changes_nothing(
    client, sample_branch, sample_secretary
):
    path = SAMPLES / "roster_clean.xlsx"
    commit(client, uploaded(client, sample_secretary, sample_branch, path))
    before = sorted(Member.objects.values_list("pk", "updated_at"))

    again = uploaded(client, sample_secretary, sample_branch, path)
    html = client.get(job_url(again)).content.decode()
    commit(client, again)

    again.refresh_from_db()
    assert (again.valid, again.unchanged, again.error_count) == (0, 25, 0)
    assert 'data-testid="commit"' not in html
    assert again.imported == 0
    assert sorted(Member.objects.values_list("pk", "updated_at")) == before


def test_the_file_is_stored_under_a_server_chosen_name_readable_only_by_us(
    client, sample_branch, sample_secretary, tmp_path
):
    job = uploaded(
        client,
        sample_secretary,
        sample_branch,
        SAMPLES / "roster_legacy.csv",
        name="../../张三.csv",
    )

    stored = tmp_path / "imports" / job.stored_name
    assert re.fullmatch(r"[0-9a-f]{32}\.csv", job.stored_name)
    assert job.file_name == "张三.csv"
    assert stored.read_bytes() == (SAMPLES / "roster_legacy.csv").read_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "imports").iterdir()] == [job.stored_name]


def test_the_stored_file_is_deleted_once_committed(
    client,
    sample_branch,
    sample_secretary,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    job = uploaded(
        client, sample_secretary, sample_branch, SAMPLES / "roster_legacy.csv"
    )

    with django_capture_on_commit_callbacks(execute=True):
        commit(client, job)

    job.refresh_from_db()
    assert job.file_deleted_at is not None
    assert not (tmp_path / "imports" / job.stored_name).exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("roster.xlsx", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"),
        ("roster.xls", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("roster.csv", "姓名,身份证号码".encode("utf-16")),
        ("roster.exe", "姓名,身份证号码\n".encode()),
        ("roster.csv", b""),
    ],
    ids=["exe-as-xlsx", "png-as-xls", "utf16-csv", "exe-extension", "empty"],
)
def test_a_file_that_is_no_roster_format_is_refused_before_it_is_stored(
    client, sample_branch, sample_secretary, tmp_path, name, content
):
    response = upload(
        client, sample_secretary, sample_branch, content=content, name=name
    )

    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert not RosterImport.objects.exists()
    assert not (tmp_path / "imports").exists() or not any(
        (tmp_path / "imports").iterdir()
    )


def test_a_workbook_under_the_other_workbook_extension_is_read_by_its_content(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client,
        sample_secretary,
        sample_branch,
        SAMPLES / "roster_clean.xlsx",
        name="roster.xls",
    )

    assert (job.file_format, job.valid) == ("xlsx", 25)


def test_a_file_over_the_size_limit_is_refused(
    client, sample_branch, sample_secretary, settings
):
    settings.LIUDONG_ROSTER_IMPORT_MAX_BYTES = 1000

    response = upload(
        client, sample_secretary, sample_branch, SAMPLES / "roster_clean.xlsx"
    )

    assert response.context["form"].errors["file"] == [
        f"The file is larger than {filesizeformat(1000)}."
    ]
    assert not RosterImport.objects.exists()


def test_a_file_the_engine_refuses_ends_failed_with_its_code_and_is_deleted(
    client, sample_branch, sample_secretary, tmp_path
):
    job = uploaded(
        client,
        sample_secretary,
        sample_branch,
        content="名单\n张三\n".encode(),
        name="names.csv",
    )

    assert (job.status, job.failure_code) == ("failed", "header_not_found")
    assert not (tmp_path / "imports" / job.stored_name).exists()
    assert "No header row" in client.get(job_url(job)).content.decode()


def test_the_upload_is_recorded_in_the_audit_without_the_file_name(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client,
        sample_secretary,
        sample_branch,
        SAMPLES / "roster_legacy.csv",
        name="张三.csv",
    )

    event = AuditEvent.objects.get(action="roster.upload")
    assert (event.actor, event.organization) == (sample_secretary, sample_branch)
    assert event.details == {
        "roster_import": job.pk,
        "format": "csv",
        "bytes": job.file_size,
        "all_or_nothing": False,
    }


def test_the_report_downloads_as_a_workbook_with_every_issue_masked(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client, sample_secretary, sample_branch, SAMPLES / "roster_damaged.xlsx"
    )
    report = imports.report_of(job)

    response = client.get(job_url(job, "report"))
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))

    issues = list(workbook[gettext("Issues")].iter_rows(values_only=True))
    assert response["Content-Disposition"] == (
        f'attachment; filename="roster-import-{job.pk}-report.xlsx"'
    )
    assert issues[0] == tuple(
        gettext(h)
        for h in ("Kind", "Row", "Column", "Code", "Value as given", "Reason")
    )
    assert [row[1:4] for row in issues[1:]] == [
        (e["row"], e["column"], e["code"]) for e in report["errors"]
    ]
    assert [row[4] for row in issues[1:]] == [
        imports.shown_value(e) for e in report["errors"]
    ]
    assert issues[1][4] == mask("5.306261961111957e+17")
    assert (
        dict(workbook[gettext("Summary")].iter_rows(values_only=True))[
            gettext("Errors")
        ]
        == 11
    )
    assert AuditEvent.objects.filter(action="roster.import_report").count() == 1


def test_the_progress_endpoint_answers_json_for_a_finished_job(
    client, sample_branch, sample_secretary
):
    job = uploaded(
        client, sample_secretary, sample_branch, SAMPLES / "roster_legacy.csv"
    )

    response = client.get(job_url(job, "progress"))

    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert response.json() == {
        "step": "preview",
        "status": "done",
        "stage": "",
        "done": 12,
        "total": 12,
        "finished": True,
        "stalled": False,
        "label": "Finished.",
    }


def test_a_queued_job_shows_a_progress_bar_with_a_refresh_link_and_no_inline_script(
    client, sample_branch, sample_secretary, settings
):
    settings.LIUDONG_ROSTER_IMPORT_INLINE_MAX_BYTES = 0
    job = uploaded(
        client, sample_secretary, sample_branch, SAMPLES / "roster_legacy.csv"
    )

    html = client.get(job_url(job)).content.decode()

    assert job.status == "queued"
    assert f'data-import-progress="{job_url(job, "progress")}"' in html
    assert '<progress max="12" value="0">' in html
    assert f'<a href="{job_url(job)}" data-testid="refresh">' in html
    assert '<script src="/static/js/import-progress.js" defer></script>' in html
    assert "<script>" not in html


def test_the_upload_form_offers_only_organisations_the_user_writes(
    client, branch_a, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)

    form = client.get(ADD_URL).context["form"]

    assert list(form.fields["organization"].queryset) == [branch_a]


def test_the_upload_form_preselects_the_only_organisation_and_no_other(
    client, branch_a, secretary_of_a, committee_staff
):
    client.force_login(secretary_of_a)
    single = client.get(ADD_URL).context["form"]
    client.force_login(committee_staff)
    several = client.get(ADD_URL).context["form"]

    assert single.fields["organization"].initial == branch_a.pk
    assert several.fields["organization"].initial is None


def test_a_secretary_cannot_upload_into_another_branch(
    client, branch_b, secretary_of_a
):
    response = upload(client, secretary_of_a, branch_b, SAMPLES / "roster_legacy.csv")

    assert response.status_code == 200
    assert response.context["form"].errors["organization"]
    assert not RosterImport.objects.exists()


@pytest.fixture
def job_of_a(client, branch_a, secretary_of_a):
    job = uploaded(client, secretary_of_a, branch_a, SAMPLES / "roster_legacy.csv")
    client.logout()
    return job


@pytest.mark.parametrize("name", ["change", "progress", "report"])
def test_another_secretary_gets_404_for_someone_elses_job(
    client, job_of_a, secretary_of_b, name
):
    client.force_login(secretary_of_b)

    assert client.get(job_url(job_of_a, name)).status_code == 404


def test_another_secretary_cannot_commit_someone_elses_job(
    client, job_of_a, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = commit(client, job_of_a)

    job_of_a.refresh_from_db()
    assert response.status_code == 404
    assert (job_of_a.step, job_of_a.status) == ("preview", "done")
    assert Member.objects.count() == 0


def test_committee_staff_above_the_branch_do_not_see_a_secretarys_upload(
    client, job_of_a, committee_staff
):
    client.force_login(committee_staff)

    assert client.get(job_url(job_of_a)).status_code == 404
    assert list(client.get(LIST_URL).context["cl"].queryset) == []


@pytest.mark.parametrize(
    "url",
    [
        lambda job: ADD_URL,
        lambda job: LIST_URL,
        lambda job: job_url(job),
        lambda job: job_url(job, "progress"),
        lambda job: job_url(job, "report"),
    ],
    ids=["add", "list", "change", "progress", "report"],
)
def test_a_provincial_viewer_gets_403_everywhere_in_the_import(
    client, job_of_a, provincial_viewer, url
):
    client.force_login(provincial_viewer)

    assert client.get(url(job_of_a)).status_code == 403


def test_a_provincial_viewer_cannot_commit(client, job_of_a, provincial_viewer):
    client.force_login(provincial_viewer)

    assert commit(client, job_of_a).status_code == 403
    assert Member.objects.count() == 0


def test_an_operator_sees_any_job_but_only_its_requester_commits(
    client, job_of_a, operator
):
    client.force_login(operator)

    page = client.get(job_url(job_of_a))
    response = commit(client, job_of_a)

    assert page.status_code == 200
    assert 'data-testid="commit"' not in page.content.decode()
    assert response.status_code == 403
    assert Member.objects.count() == 0


def test_the_requester_lists_their_own_jobs(client, job_of_a, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(LIST_URL)

    assert list(response.context["cl"].queryset) == [job_of_a]


def test_committing_twice_imports_once(client, job_of_a, secretary_of_a):
    client.force_login(secretary_of_a)
    first = client.post(job_url(job_of_a, "commit"), follow=True)

    second = client.post(job_url(job_of_a, "commit"), follow=True)

    assert [str(m) for m in first.context["messages"]] == ["12 members imported."]
    assert [str(m) for m in second.context["messages"]] == [
        "This import is not waiting to be committed."
    ]
    assert Member.objects.count() == 12


def test_a_commit_needs_a_post(client, job_of_a, secretary_of_a):
    client.force_login(secretary_of_a)

    assert client.get(job_url(job_of_a, "commit")).status_code == 405
