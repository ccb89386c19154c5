"""The roster import as a Celery task: queueing, claims, progress, failure."""

import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DEFAULT_DB_ALIAS, connections
from django.urls import reverse
from django.utils import timezone, translation

from members import imports, tasks
from members.models import AuditEvent, Member, RosterImport
from members.roster import importer

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TODAY = datetime.date(2026, 12, 3)
CLEAN = SAMPLES / "roster_clean.xlsx"
LEGACY = SAMPLES / "roster_legacy.csv"


@pytest.fixture(autouse=True)
def _english(client):
    # The assertions read the English msgids; the catalog translates them.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _background(settings, tmp_path, monkeypatch):
    # Every upload goes to the task; tasks run in-process, as a worker would
    # run them, once the callbacks registered on commit are executed.
    settings.MEDIA_ROOT = tmp_path
    settings.LIUDONG_ROSTER_IMPORT_INLINE_MAX_BYTES = 0
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr(importer, "timezone", SimpleNamespace(localdate=lambda: TODAY))


def create(secretary, branch, path=LEGACY, *, all_or_nothing=False) -> RosterImport:
    return imports.roster_import_create(
        actor=secretary,
        organization=branch,
        upload=SimpleUploadedFile(path.name, path.read_bytes()),
        all_or_nothing=all_or_nothing,
    )


def reloaded(job) -> RosterImport:
    return RosterImport.objects.get(pk=job.pk)


@pytest.fixture
def previewed(branch_a, secretary_of_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = create(secretary_of_a, branch_a)
    return reloaded(job)


def test_a_large_upload_is_queued_on_commit_not_run_in_the_request(
    branch_a, secretary_of_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = create(secretary_of_a, branch_a)

    assert len(callbacks) == 1
    assert (job.in_background, reloaded(job).status) == (True, "queued")


def test_the_task_previews_the_upload_once_its_transaction_commits(
    branch_a, secretary_of_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = create(secretary_of_a, branch_a)

    job = reloaded(job)
    assert (job.step, job.status, job.valid, job.error_count) == (
        "preview",
        "done",
        12,
        0,
    )
    assert Member.objects.count() == 0


def test_the_task_commits_when_the_requester_asks(
    previewed, secretary_of_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        imports.roster_import_commit(actor=secretary_of_a, job=previewed)

    job = reloaded(previewed)
    # One callback queues the task; the task's commit adds the file's removal.
    assert len(callbacks) == 2
    assert (job.step, job.status, job.imported) == ("commit", "done", 12)
    assert Member.objects.count() == 12


def test_the_whole_admin_flow_runs_through_the_task(
    client, branch_a, secretary_of_a, django_capture_on_commit_callbacks
):
    client.force_login(secretary_of_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:members_rosterimport_add"),
            {
                "file": SimpleUploadedFile("r.xlsx", CLEAN.read_bytes()),
                "organization": branch_a.pk,
                "all_or_nothing": "no",
            },
        )
    job = RosterImport.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:members_rosterimport_commit", args=[job.pk]))

    job = reloaded(job)
    assert response.status_code == 302
    assert (job.in_background, job.step, job.status, job.imported) == (
        True,
        "commit",
        "done",
        25,
    )
    assert Member.objects.count() == 25


def test_the_task_takes_the_job_id_acks_late_and_has_time_limits():
    task = tasks.run_roster_import

    assert task.acks_late is True
    assert (task.soft_time_limit, task.time_limit) == (50 * 60, 55 * 60)
    assert task.soft_time_limit < task.time_limit


def test_running_the_commit_task_twice_imports_once(previewed, secretary_of_a):
    RosterImport.objects.filter(pk=previewed.pk).update(step="commit", status="queued")

    first = tasks.run_roster_import.apply(args=[previewed.pk]).get()
    second = tasks.run_roster_import.apply(args=[previewed.pk]).get()

    assert (first, second) == ("done", None)
    assert Member.objects.count() == 12
    assert AuditEvent.objects.filter(action="roster.import").count() == 1


def test_a_step_running_elsewhere_is_not_claimed_again(previewed):
    RosterImport.objects.filter(pk=previewed.pk).update(
        step="commit", status="running", heartbeat_at=timezone.now(), claim="other"
    )

    result = tasks.run_roster_import.apply(args=[previewed.pk]).get()

    assert result is None
    assert reloaded(previewed).status == "running"
    assert Member.objects.count() == 0


def test_a_step_whose_worker_died_is_claimed_again_when_redelivered(previewed):
    # A killed worker leaves its job running with no more heartbeats; acks_late
    # makes the broker deliver the task again.
    long_ago = timezone.now() - imports.STALE_AFTER - datetime.timedelta(minutes=1)
    RosterImport.objects.filter(pk=previewed.pk).update(
        step="commit", status="running", heartbeat_at=long_ago, claim="dead"
    )

    result = tasks.run_roster_import.apply(args=[previewed.pk]).get()

    assert result == "done"
    assert reloaded(previewed).imported == 12


def test_a_commit_that_lost_its_claim_rolls_back(previewed, monkeypatch):
    # Another worker claimed the step meanwhile (after a stale heartbeat):
    # finishing this one matches no row, and its writes roll back.
    RosterImport.objects.filter(pk=previewed.pk).update(step="commit", status="queued")
    monkeypatch.setattr(
        imports, "_claimed", lambda job, claim: RosterImport.objects.none()
    )

    tasks.run_roster_import.apply(args=[previewed.pk]).get()

    assert Member.objects.count() == 0
    assert not AuditEvent.objects.filter(action="roster.import").exists()
    assert reloaded(previewed).status == "running"


@pytest.fixture
def failing_writer(monkeypatch):
    # Batches of 5 rows, and the second batch fails: the first is written
    # inside the transaction before the failure.
    monkeypatch.setattr(importer, "BATCH_SIZE", 5)
    original = importer._write_batch
    calls = []

    def write_batch(batch, **kwargs):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("worker lost mid-way")
        return original(batch, **kwargs)

    monkeypatch.setattr(importer, "_write_batch", write_batch)
    return SimpleNamespace(calls=calls, original=original)


def test_a_failure_mid_way_through_the_commit_leaves_nothing_written(
    previewed, secretary_of_a, failing_writer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        imports.roster_import_commit(actor=secretary_of_a, job=previewed)

    job = reloaded(previewed)
    assert failing_writer.calls == [5, 5]
    assert (job.step, job.status, job.failure_code) == ("commit", "failed", "internal")
    assert Member.objects.count() == 0
    assert not AuditEvent.objects.filter(action__in=["roster.import", "member.create"])
    assert job.imported == 0


def test_a_failed_commit_keeps_its_preview_and_its_file_and_may_be_retried(
    previewed,
    secretary_of_a,
    failing_writer,
    monkeypatch,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        imports.roster_import_commit(actor=secretary_of_a, job=previewed)
    failed = reloaded(previewed)
    after_failure = (
        failed.status,
        failed.valid,
        failed.error_count,
        (tmp_path / "imports" / failed.stored_name).exists(),
    )
    monkeypatch.setattr(importer, "_write_batch", failing_writer.original)

    with django_capture_on_commit_callbacks(execute=True):
        imports.roster_import_commit(actor=secretary_of_a, job=failed)

    assert after_failure == ("failed", 12, 0, True)
    assert reloaded(previewed).imported == 12
    assert Member.objects.count() == 12


def test_a_requester_who_lost_the_role_gets_a_failed_job_and_nothing_written(
    previewed, secretary_of_a, django_capture_on_commit_callbacks
):
    RosterImport.objects.filter(pk=previewed.pk).update(step="commit", status="queued")
    secretary_of_a.roles.update(ends_on=datetime.date(2021, 1, 1))

    tasks.run_roster_import.apply(args=[previewed.pk]).get()

    job = reloaded(previewed)
    assert (job.status, job.failure_code) == ("failed", "out_of_scope")
    assert Member.objects.count() == 0


def test_progress_is_written_where_the_polling_page_sees_it_during_the_commit(
    transactional_db, branch_a, secretary_of_a, monkeypatch
):
    monkeypatch.setattr(importer, "BATCH_SIZE", 5)
    job = create(secretary_of_a, branch_a)  # on_commit runs at once: no atomic
    RosterImport.objects.filter(pk=job.pk).update(
        step="commit", status="queued", progress_total=12
    )
    seen = []
    original = imports._ProgressWriter.__call__

    def spy(self, stage, done):
        original(self, stage, done)
        # Asked on another connection, as the polling request would.
        other = connections.create_connection(DEFAULT_DB_ALIAS)
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT stage, progress_done, progress_total FROM "
                "members_rosterimport WHERE id = %s",
                [job.pk],
            )
            seen.append(cursor.fetchone())
        other.close()

    monkeypatch.setattr(imports._ProgressWriter, "__call__", spy)

    tasks.run_roster_import.apply(args=[job.pk]).get()

    assert seen == [
        ("check", 5, 12),
        ("check", 10, 12),
        ("write", 5, 12),
        ("write", 10, 12),
        ("write", 12, 12),
    ]
    assert reloaded(job).status == "done"


def test_the_preview_estimates_the_rows_of_a_csv_for_its_progress_bar(
    branch_a, secretary_of_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        job = create(secretary_of_a, branch_a)

    assert reloaded(job).progress_total == 12


def test_the_preview_reads_the_row_count_a_workbook_declares(
    branch_a, secretary_of_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        job = create(secretary_of_a, branch_a, CLEAN)

    assert reloaded(job).progress_total == 29 - 1


def test_uploads_past_their_retention_are_purged_but_running_ones_kept(
    previewed, branch_a, secretary_of_a, tmp_path, settings
):
    settings.LIUDONG_ROSTER_IMPORT_RETENTION_DAYS = 7
    running = create(secretary_of_a, branch_a)
    old = timezone.now() - datetime.timedelta(days=8)
    RosterImport.objects.update(requested_at=old)
    RosterImport.objects.filter(pk=running.pk).update(
        status="running", heartbeat_at=timezone.now()
    )

    purged = tasks.purge_roster_uploads.apply().get()

    assert purged == 1
    assert not (tmp_path / "imports" / previewed.stored_name).exists()
    assert (tmp_path / "imports" / running.stored_name).exists()
    assert reloaded(previewed).file_deleted_at is not None


def test_a_purged_upload_can_no_longer_be_committed(previewed, secretary_of_a):
    RosterImport.objects.filter(pk=previewed.pk).update(file_deleted_at=timezone.now())

    with pytest.raises(imports.RosterImportStateError):
        imports.roster_import_commit(actor=secretary_of_a, job=previewed)
