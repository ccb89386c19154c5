"""Roster import jobs: an uploaded file previewed, then committed.

The admin's roster import goes through here; checking and writing the rows
is the roster engine's work (``members.roster``). A job keeps the upload
under a name the server chooses in ``MEDIA_ROOT/imports``, runs the
engine's preview and then its commit, and keeps the row report encrypted
on the job. Files up to ``LIUDONG_ROSTER_IMPORT_INLINE_MAX_BYTES`` run in
the request; larger ones in the Celery task
``members.tasks.run_roster_import``, which writes its progress onto the job
for the progress bar.

Each step is claimed by a conditional UPDATE from queued to running that
sets a fresh claim token, and finished by another that requires the token:
a task delivered twice runs its step once, and a commit that lost its
claim rolls back.
"""

import datetime
import json
import logging
import os
import re
import uuid
import zipfile
from pathlib import Path
from typing import IO, Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F, Q, QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import exports, roster
from members.identity import mask
from members.models import RosterImport, User
from members.services import audit_record
from organizations.models import Organization
from organizations.scope import OutOfScope, ReadOnlyScope, Scope, scope_for, subtree_q

logger = logging.getLogger(__name__)

Status = RosterImport.Status
Step = RosterImport.Step

UPLOAD_DIR = "imports"
EXTENSIONS = (".xlsx", ".xls", ".csv")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TEXT_SAMPLE_BYTES = 64 * 1024
_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+\d+(?::[A-Z]+(\d+))?"')

# A step of a 1,000,000-row file (the most the engine reads) takes some
# minutes; a worker that has not finished by the hard limit is killed.
TASK_SOFT_TIME_LIMIT = 50 * 60
TASK_TIME_LIMIT = 55 * 60
# A running step whose worker has not written progress for this long is
# dead (killed, or its machine went down): its step may be claimed again
# when the task is delivered again.
STALE_AFTER = datetime.timedelta(seconds=TASK_TIME_LIMIT)

# The page shows this many issues of each kind; the workbook has them all.
SHOWN_ISSUES = 500
# Codes whose value is the ID number or the phone cell as typed.
_SECRET_CODES = frozenset(
    {
        "id_scientific_notation",
        "id_truncated",
        "id_format",
        "id_province",
        "id_birth_date",
        "id_checksum",
        "phone_invalid",
        "duplicate_in_file",
        "duplicate_in_database",
        "member_exists_elsewhere",
    }
)
# Seven digits in a row: an ID number or a phone in a shifted column.
_LONG_NUMBER = re.compile(r"\d{7}")


class RosterImportStateError(Exception):
    """The import is not in the state the requested step needs."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _ClaimLost(Exception):
    """Another worker claimed the step meanwhile; this run must not finish."""


# --- who sees what -----------------------------------------------------------


def may_import(scope: Scope) -> bool:
    """Whether the scope writes anywhere, which importing needs."""
    return scope.is_operator or bool(scope.write_paths)


def roster_import_list(*, scope: Scope) -> QuerySet[RosterImport]:
    """Imports the scope sees: every one for operators, else one's own.

    The report may hold ID numbers as typed, so even a committee that
    writes the organisation does not see a secretary's upload.
    """
    jobs = RosterImport.objects.select_related("organization").defer("report")
    if scope.is_operator:
        return jobs
    return jobs.filter(
        subtree_q(scope.write_paths, field_name="organization__path"),
        requested_by_id=scope.user_id,
    )


def roster_import_get(*, scope: Scope, job_id: int | str) -> RosterImport:
    """Return one import the scope sees.

    Read-only roles get ``ReadOnlyScope`` (403), anyone else's import is
    ``OutOfScope`` (404).
    """
    if not may_import(scope):
        raise ReadOnlyScope()
    if not str(job_id).isdigit():
        raise OutOfScope()
    job = roster_import_list(scope=scope).filter(pk=int(job_id)).first()
    if job is None:
        raise OutOfScope()
    return job


# --- upload and commit -------------------------------------------------------


def sniff_format(head: bytes) -> str | None:
    """Name the roster format a file's first bytes show, or None."""
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE2_MAGIC):
        return "xls"
    # Text has no NUL byte; executables, images, archives and UTF-16 text
    # all do, early on. The engine then decides the encoding.
    if head and b"\x00" not in head:
        return "csv"
    return None


def upload_path(stored_name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR / stored_name


def roster_import_create(
    *,
    actor: User,
    organization: Organization,
    upload: UploadedFile,
    all_or_nothing: bool,
) -> RosterImport:
    """Store an uploaded roster for ``organization`` and start its preview.

    A small file is previewed before this returns; a larger one is queued
    for a worker once the transaction commits.
    """
    _require_write(scope_for(actor), organization)
    file_format = _checked_upload(upload)

    # The suffix is the format found in the content: openpyxl opens a path
    # only under a workbook extension.
    stored_name = f"{uuid.uuid4().hex}.{file_format}"
    _store(upload, stored_name)
    in_background = upload.size > settings.LIUDONG_ROSTER_IMPORT_INLINE_MAX_BYTES
    try:
        with transaction.atomic():
            job = RosterImport.objects.create(
                organization=organization,
                requested_by=actor,
                file_name=Path(upload.name or "").name[:255],
                stored_name=stored_name,
                file_format=file_format,
                file_size=upload.size,
                all_or_nothing=all_or_nothing,
                in_background=in_background,
                progress_total=_estimated_rows(upload_path(stored_name), file_format),
            )
            # The file name may carry a person's name: the audit keeps ids.
            audit_record(
                actor=actor,
                action="roster.upload",
                organization=organization,
                roster_import=job.pk,
                format=file_format,
                bytes=upload.size,
                all_or_nothing=all_or_nothing,
            )
    except BaseException:
        upload_path(stored_name).unlink(missing_ok=True)
        raise

    logger.info(
        "roster upload job_id=%s organization_id=%s bytes=%s background=%s",
        job.pk,
        organization.pk,
        upload.size,
        in_background,
    )
    _start(job)
    return job


def roster_import_commit(*, actor: User, job: RosterImport) -> RosterImport:
    """Queue the commit of a previewed import; run it now when it is small.

    A commit that failed may be asked for again: the engine checks the
    file afresh each time.
    """
    _require_write(scope_for(actor), job.organization)
    if job.requested_by_id != actor.pk:
        raise PermissionDenied(_("Only the person who uploaded a file commits it."))

    ready = Q(step=Step.PREVIEW, status=Status.DONE) | Q(
        step=Step.COMMIT, status=Status.FAILED
    )
    updated = RosterImport.objects.filter(
        ready, pk=job.pk, file_deleted_at__isnull=True
    ).update(
        step=Step.COMMIT,
        status=Status.QUEUED,
        stage="",
        progress_done=0,
        progress_total=F("rows"),
        failure_code="",
        failure_message="",
    )
    if not updated:
        raise RosterImportStateError(
            gettext("This import is not waiting to be committed.")
        )
    job.refresh_from_db()
    logger.info("roster commit requested job_id=%s", job.pk)
    _start(job)
    return job


def _require_write(scope: Scope, organization: Organization) -> None:
    if not scope.reads(organization):
        raise OutOfScope()
    if not scope.writes(organization):
        raise ReadOnlyScope()


def _checked_upload(upload: UploadedFile) -> str:
    """Return the format of an acceptable upload, or raise ValidationError."""
    if Path(upload.name or "").suffix.lower() not in EXTENSIONS:
        raise ValidationError(_("Upload an XLSX, XLS or CSV file."), code="file_type")
    if not upload.size:
        raise ValidationError(_("The file is empty."), code="file_empty")
    limit = settings.LIUDONG_ROSTER_IMPORT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            _("The file is larger than %(limit)s.") % {"limit": filesizeformat(limit)},
            code="file_size",
        )
    upload.seek(0)
    head = upload.read(_TEXT_SAMPLE_BYTES)
    upload.seek(0)
    # The content decides, not the name: Excel users often save a workbook
    # under the other workbook extension, and the engine reads each format
    # by its content too. Anything else (a program renamed .xlsx) is refused.
    file_format = sniff_format(head)
    if file_format is None:
        raise ValidationError(
            _("This is not an XLSX, XLS or CSV file."), code="file_type"
        )
    return file_format


def _store(upload: UploadedFile, stored_name: str) -> None:
    path = upload_path(stored_name)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_EXCL: a stored name is never reused. 0600: only this service reads
    # the file; it is never served.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def _estimated_rows(path: Path, file_format: str) -> int:
    """Guess a file's data rows cheaply; only the progress bar uses it."""
    try:
        if file_format == "csv":
            with open(path, "rb") as fh:
                lines = sum(
                    block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")
                )
            return max(lines - 1, 0)
        if file_format == "xlsx":
            return max(_sheet_dimensions(path), default=1) - 1
    except (OSError, zipfile.BadZipFile):
        # The engine reports a broken file properly; the bar just waits.
        return 0
    return 0


def _sheet_dimensions(path: Path) -> list[int]:
    # The last row each sheet declares, from the first bytes of its XML:
    # opening the workbook would read its shared strings, which may be huge.
    rows = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with archive.open(name) as sheet:
                    found = _DIMENSION.search(sheet.read(4096))
                if found:
                    rows.append(int(found.group(1) or 1))
    return rows


def _start(job: RosterImport) -> None:
    if job.in_background:
        # Imported here: members.tasks imports this module.
        from members.tasks import run_roster_import

        job_id = job.pk
        transaction.on_commit(lambda: run_roster_import.delay(job_id))
        return
    roster_import_run(job_id=job.pk, report_progress=False)
    job.refresh_from_db()


# --- running a step ----------------------------------------------------------


def roster_import_run(*, job_id: int, report_progress: bool = True) -> str | None:
    """Run the queued step of an import once and return its final status.

    Returns None when the step is not this caller's to run: finished
    already, or running elsewhere. Failures end the job ``failed`` with a
    code and a message; a failed commit has written nothing.
    """
    claim = _claim(job_id)
    if claim is None:
        logger.info("roster import step not claimed job_id=%s", job_id)
        return None
    job = RosterImport.objects.select_related("organization", "requested_by").get(
        pk=job_id
    )

    progress = _ProgressWriter(job, claim) if report_progress else None
    try:
        _run_step(job, claim, progress)
    except roster.RosterFileError as exc:
        _fail(job, claim, exc.code, exc.message, delete_file=True)
    except (OutOfScope, ReadOnlyScope):
        # The requester's role ended or changed since the upload.
        _fail(job, claim, "out_of_scope", _("You may no longer import here."))
    except SoftTimeLimitExceeded:
        logger.error("roster import over its time limit job_id=%s", job.pk)
        _fail(job, claim, "time_limit", _("The import took too long and stopped."))
    except Exception:
        logger.exception("roster import failed job_id=%s step=%s", job.pk, job.step)
        _fail(job, claim, "internal", _("The import stopped on an unexpected error."))
    finally:
        if progress is not None:
            progress.close()

    status = RosterImport.objects.values_list("status", flat=True).get(pk=job_id)
    logger.info(
        "roster import step ended job_id=%s step=%s status=%s",
        job.pk,
        job.step,
        status,
    )
    return status


def _claim(job_id: int) -> str | None:
    now = timezone.now()
    claim = uuid.uuid4().hex
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    updated = RosterImport.objects.filter(claimable, pk=job_id).update(
        status=Status.RUNNING,
        claim=claim,
        started_at=now,
        heartbeat_at=now,
        stage="",
        progress_done=0,
    )
    return claim if updated else None


def _claimed(job: RosterImport, claim: str) -> QuerySet[RosterImport]:
    return RosterImport.objects.filter(pk=job.pk, status=Status.RUNNING, claim=claim)


def _run_step(job: RosterImport, claim: str, progress: Any) -> None:
    arguments = dict(
        file=upload_path(job.stored_name),
        organization=job.organization,
        actor=job.requested_by,
        all_or_nothing=job.all_or_nothing,
        file_name=job.file_name,
        progress=progress,
    )
    if job.step == Step.PREVIEW:
        _finish(job, claim, roster.preview(**arguments))
        return
    # The job is marked done in the transaction that writes the members:
    # both happen, or (a crash, a killed worker, a lost claim) neither.
    with transaction.atomic():
        _finish(job, claim, roster.commit(**arguments))
        transaction.on_commit(lambda: _delete_file(job))


def _finish(job: RosterImport, claim: str, report: roster.ImportReport) -> None:
    updated = _claimed(job, claim).update(
        status=Status.DONE,
        stage="",
        progress_done=F("progress_total"),
        finished_at=timezone.now(),
        rows=report.rows,
        valid=report.valid,
        imported=report.imported,
        unchanged=len(report.unchanged),
        error_count=len(report.errors),
        warning_count=len(report.warnings),
        report=json.dumps(_stored_report(report), ensure_ascii=False),
    )
    if not updated:
        raise _ClaimLost(job.pk)


def _fail(
    job: RosterImport,
    claim: str,
    code: str,
    message: Any,
    *,
    delete_file: bool = False,
) -> None:
    # The preview's counts and report stay: a failed commit still shows
    # what the file holds.
    _claimed(job, claim).update(
        status=Status.FAILED,
        stage="",
        finished_at=timezone.now(),
        failure_code=code,
        failure_message=str(message),
    )
    if delete_file:
        _delete_file(job)


def _stored_report(report: roster.ImportReport) -> dict[str, Any]:
    # Everything but the valid rows themselves: those are in the file, and
    # at 100,000 rows they would make the report a hundred times larger.
    return {
        "format": report.format,
        "sheet": report.sheet,
        "encoding": report.encoding,
        "header_row": report.header_row,
        "id_column": report.id_column,
        "committed": report.committed,
        "refused": report.refused,
        "unchanged": report.unchanged,
        "errors": [issue.as_dict() for issue in report.errors],
        "warnings": [issue.as_dict() for issue in report.warnings],
    }


class _ProgressWriter:
    """Write a running step's progress onto its job, on a second connection.

    The commit checks and writes in one long transaction. Progress written
    on that transaction's connection would stay invisible to the polling
    page until the end, and vanish with a rollback; a connection of its
    own, in autocommit, makes each update visible at once.
    """

    _SQL = (
        f"UPDATE {RosterImport._meta.db_table} "  # noqa: S608 (a constant name)
        "SET stage = %s, progress_done = %s, progress_total = %s, "
        "heartbeat_at = now() "
        "WHERE id = %s AND status = 'running' AND claim = %s"
    )

    def __init__(self, job: RosterImport, claim: str):
        self.job_id = job.pk
        self.claim = claim
        # The commit's check reads the rows the preview counted, and writes
        # the rows it found valid; a preview knows only an estimate.
        self.totals = {"check": job.progress_total, "write": job.valid}
        self.connection = connections.create_connection(DEFAULT_DB_ALIAS)

    def __call__(self, stage: str, done: int) -> None:
        total = max(self.totals.get(stage, 0), done)
        with self.connection.cursor() as cursor:
            cursor.execute(self._SQL, [stage, done, total, self.job_id, self.claim])

    def close(self) -> None:
        self.connection.close()


# --- files -------------------------------------------------------------------


def roster_import_purge_files(*, now: datetime.datetime | None = None) -> int:
    """Delete uploads kept past the retention period; return how many."""
    cutoff = (now or timezone.now()) - datetime.timedelta(
        days=settings.LIUDONG_ROSTER_IMPORT_RETENTION_DAYS
    )
    old = RosterImport.objects.filter(
        requested_at__lt=cutoff, file_deleted_at__isnull=True
    ).exclude(status__in=(Status.QUEUED, Status.RUNNING))
    deleted = sum(_delete_file(job) for job in old.only("pk", "stored_name"))
    logger.info("roster uploads purged count=%s", deleted)
    return deleted


def _delete_file(job: RosterImport) -> bool:
    # Marked first, conditionally: a commit asked for at this moment either
    # queued its step before (and the file stays) or finds it gone.
    marked = (
        RosterImport.objects.filter(pk=job.pk, file_deleted_at__isnull=True)
        .exclude(status__in=(Status.QUEUED, Status.RUNNING))
        .update(file_deleted_at=timezone.now())
    )
    if marked:
        upload_path(job.stored_name).unlink(missing_ok=True)
    return bool(marked)


# --- what the page and the workbook show -------------------------------------


def shown_value(issue: dict[str, Any]) -> str:
    """The value of an issue as the report shows it.

    The report keeps each value as given, encrypted, but never shows back
    a full ID number or phone, not even to the person who uploaded it:
    pages are looked over shoulders and workbooks forwarded, and the full
    value is in that person's own file. Masked with the one mask (first 3
    and last 4), the value still finds its cell.
    """
    value = str(issue.get("value") or "")
    if issue.get("code") in _SECRET_CODES or _LONG_NUMBER.search(value):
        return mask(value)
    return value


def report_of(job: RosterImport) -> dict[str, Any]:
    """The stored report of an import, or an empty one."""
    return json.loads(job.report) if job.report else {}


def report_for_page(job: RosterImport) -> dict[str, Any]:
    """The report's issues as the page shows them: masked and capped."""
    report = report_of(job)
    shown = {}
    for kind in ("errors", "warnings"):
        issues = report.get(kind, [])
        shown[kind] = [
            issue | {"value": shown_value(issue)} for issue in issues[:SHOWN_ISSUES]
        ]
        shown[f"more_{kind}"] = max(len(issues) - SHOWN_ISSUES, 0)
    shown["header_row"] = report.get("header_row")
    shown["sheet"] = report.get("sheet", "")
    shown["encoding"] = report.get("encoding", "")
    return shown


def report_workbook(job: RosterImport) -> IO[bytes]:
    """Write an import's whole row report as a workbook in a temporary file."""
    report = report_of(job)
    summary = [
        (gettext("File"), job.file_name),
        (gettext("Organization"), job.organization.name),
        (gettext("Rows"), job.rows),
        (gettext("Valid"), job.valid),
        (gettext("Imported"), job.imported),
        (gettext("Unchanged"), job.unchanged),
        (gettext("Errors"), job.error_count),
        (gettext("Warnings"), job.warning_count),
    ]
    return exports.xlsx_file(
        [
            (gettext("Issues"), _issue_rows(report), frozenset({4})),
            (gettext("Summary"), summary, frozenset({1})),
        ]
    )


def _issue_rows(report: dict[str, Any]):
    yield [
        gettext("Kind"),
        gettext("Row"),
        gettext("Column"),
        gettext("Code"),
        gettext("Value as given"),
        gettext("Reason"),
    ]
    for kind, label in (("errors", gettext("error")), ("warnings", gettext("warning"))):
        for issue in report.get(kind, []):
            yield [
                label,
                issue["row"],
                issue["column"],
                issue["code"],
                shown_value(issue),
                issue["message"],
            ]
    for row in report.get("unchanged", []):
        yield [gettext("unchanged"), row, "", "", "", ""]


def progress_of(job: RosterImport) -> dict[str, Any]:
    """Where a job stands, for the progress bar and its JSON endpoint."""
    stalled = (
        job.status == Status.RUNNING
        and job.heartbeat_at is not None
        and job.heartbeat_at < timezone.now() - STALE_AFTER
    )
    return {
        "step": job.step,
        "status": job.status,
        "stage": job.stage,
        "done": job.progress_done,
        "total": job.progress_total,
        "finished": job.finished,
        "stalled": stalled,
        "label": _progress_label(job, stalled=stalled),
    }


def _progress_label(job: RosterImport, *, stalled: bool) -> str:
    numbers = {"done": job.progress_done, "total": job.progress_total}
    if job.finished:
        return gettext("Finished.")
    if stalled:
        return gettext("This import seems to have stopped. Upload the file again.")
    if job.status == Status.QUEUED:
        return gettext("Waiting for a worker to start.")
    if job.stage == "write":
        return gettext("Writing members: %(done)d of %(total)d.") % numbers
    if job.stage == "check" and job.progress_total:
        return gettext("Checking rows: %(done)d of about %(total)d.") % numbers
    if job.stage == "check":
        return gettext("Checking rows: %(done)d.") % numbers
    return gettext("Reading the file.")
