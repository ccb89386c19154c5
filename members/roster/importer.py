"""Check every row of a roster file, then write the valid ones at once."""

import datetime
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from psycopg2.extras import DateRange

from members.models import AuditEvent, Member, MembershipPeriod, User
from members.roster.columns import Header, find_header
from members.roster.reader import RosterFileError, Source, Table, open_tables
from members.roster.report import ImportReport, Issue, Record
from members.roster.rows import RowChecker, header_warnings
from organizations.models import Organization
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for

logger = logging.getLogger(__name__)

# Rows per INSERT and per look-up of existing ID hashes: large enough that a
# 100,000-row file costs a few hundred statements, small enough to keep
# each statement's parameters well under PostgreSQL's limits.
BATCH_SIZE = 1000
# Called as progress(stage, done): ("check", rows checked so far) every
# BATCH_SIZE rows, then ("write", rows written so far) after each batch.
Progress = Callable[[str, int], None]


def preview(
    *,
    file: Source,
    organization: Organization,
    actor: User | None,
    all_or_nothing: bool = False,
    file_name: str = "",
    today: datetime.date | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Check a roster file for ``organization`` and report every row.

    Nothing is written. ``actor=None`` is the operator's command line.
    """
    _require_write(actor, organization)
    report = _check_file(
        file=file,
        organization=organization,
        file_name=file_name or _name_of(file),
        today=today or timezone.localdate(),
        progress=progress,
    )
    report.all_or_nothing = all_or_nothing
    return report


def commit(
    *,
    file: Source,
    organization: Organization,
    actor: User | None,
    all_or_nothing: bool = False,
    file_name: str = "",
    starts_on: datetime.date | None = None,
    today: datetime.date | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Check a roster file again and write its valid rows in one transaction.

    With ``all_or_nothing``, one failing row means nothing is written. The
    members are held by their organisation from ``starts_on`` (today by
    default). ``actor=None`` is the operator's command line.
    """
    _require_write(actor, organization)
    day = today or timezone.localdate()

    # One transaction around checking and writing: the duplicate look-ups
    # see what is written, and a crash or a killed worker leaves nothing.
    with transaction.atomic():
        report = _check_file(
            file=file,
            organization=organization,
            file_name=file_name or _name_of(file),
            today=day,
            progress=progress,
        )
        report.all_or_nothing = all_or_nothing
        if not report.refused:
            written = 0
            for batch in _chunks(report.records, BATCH_SIZE):
                _write_batch(batch, starts_on=starts_on or day, actor=actor)
                written += len(batch)
                if progress:
                    progress("write", written)
            report.imported = report.valid
            report.committed = True
        _audit(report, actor=actor)

    logger.info(
        "roster import organization_id=%s rows=%s imported=%s unchanged=%s "
        "errors=%s refused=%s",
        organization.pk,
        report.rows,
        report.imported,
        len(report.unchanged),
        len(report.errors),
        report.refused,
    )
    return report


def _require_write(actor: User | None, organization: Organization) -> None:
    if actor is None:
        return
    scope = scope_for(actor)
    if not scope.reads(organization):
        raise OutOfScope()
    if not scope.writes(organization):
        raise ReadOnlyScope()


def _name_of(file: Source) -> str:
    if isinstance(file, str | Path):
        return Path(file).name
    return Path(getattr(file, "name", "") or "").name


def _check_file(
    *,
    file: Source,
    organization: Organization,
    file_name: str,
    today: datetime.date,
    progress: Progress | None,
) -> ImportReport:
    report = ImportReport(file_name=file_name, organization=organization)
    with open_tables(file) as tables:
        table, header = _find_roster(tables)
        report.format, report.sheet = table.format, table.sheet
        report.encoding = table.encoding
        report.header_row = header.row
        report.id_column = header.header_of("id_number")
        report.warnings.extend(header_warnings(header))
        checker = RowChecker(
            header=header,
            organization=organization,
            today=today,
            date1904=table.date1904,
        )
        for number, cells in table.rows:
            counted = checker.check(number, cells, report)
            if counted and progress and report.rows % BATCH_SIZE == 0:
                progress("check", report.rows)
    _drop_existing(report, today=today)
    return report


_REQUIRED_LABELS = {"name": "姓名", "id_number": "身份证号码", "joined_on": "入党时间"}


def _find_roster(tables: list[Table]) -> tuple[Table, Header]:
    """Return the first sheet with a roster header, and that header."""
    for table in tables:
        header = find_header(table.rows)
        if header is None:
            continue
        if header.missing:
            raise RosterFileError(
                "column_missing",
                _("Required columns are missing: %(columns)s.")
                % {"columns": ", ".join(_REQUIRED_LABELS[f] for f in header.missing)},
            )
        return table, header
    raise RosterFileError(
        "header_not_found",
        _(
            "No header row with 姓名 and an ID number column was found in the "
            "first rows of any sheet."
        ),
    )


def _drop_existing(report: ImportReport, *, today: datetime.date) -> None:
    """Move rows whose ID number is already stored out of the valid ones.

    A row identical to the member its organisation already holds is
    ``unchanged`` (re-importing a file changes nothing); any other match
    is an error, because an import never overwrites or moves a member.
    """
    kept: list[Record] = []
    for batch in _chunks(report.records, BATCH_SIZE):
        stored = _stored_members(batch, today)
        for record in batch:
            found = stored.get(record.fields["id_number_hash"])
            if found is None:
                kept.append(record)
            elif found["organization_id"] != record.organization.pk:
                report.errors.append(_held_elsewhere(report, record))
            elif differing := [
                f for f in record.compared if found[f] != record.fields[f]
            ]:
                report.errors.append(_stored_differently(report, record, differing))
            else:
                report.unchanged.append(record.row)
    report.records = kept
    report.errors.sort(key=lambda issue: issue.row)


def _stored_members(
    batch: list[Record], today: datetime.date
) -> dict[bytes, dict[str, Any]]:
    # Plain values, not model instances: nothing is decrypted (the phone is
    # compared by its blind index), and the holding organisation comes from
    # the same query, one per batch.
    holder = MembershipPeriod.objects.filter(
        member=OuterRef("pk"), period__contains=today
    ).values("organization_id")[:1]
    compared = {f for record in batch for f in record.compared}
    rows = (
        Member.objects.filter(
            id_number_hash__in=[r.fields["id_number_hash"] for r in batch]
        )
        .annotate(organization_id=Subquery(holder))
        .values("id_number_hash", "organization_id", *compared)
    )
    return {
        bytes(row["id_number_hash"]): {
            k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()
        }
        for row in rows
    }


def _held_elsewhere(report: ImportReport, record: Record) -> Issue:
    return Issue(
        record.row,
        report.id_column,
        "member_exists_elsewhere",
        record.id_as_given,
        str(_("This member is already held by another organisation.")),
    )


def _stored_differently(
    report: ImportReport, record: Record, differing: list[str]
) -> Issue:
    return Issue(
        record.row,
        report.id_column,
        "duplicate_in_database",
        record.id_as_given,
        str(
            _(
                "This member is already stored here with different details "
                "(%(fields)s); an import never overwrites a record."
            )
            % {"fields": ", ".join(_field_label(f) for f in differing)}
        ),
    )


def _field_label(attname: str) -> str:
    return attname.removesuffix("_hash").removesuffix("_id")


def _write_batch(
    batch: list[Record], *, starts_on: datetime.date, actor: User | None
) -> None:
    # Imported members get no login account: they activate later through
    # a single-use link (issue 10), so ``user`` stays empty.
    members = Member.objects.bulk_create([Member(**record.fields) for record in batch])
    MembershipPeriod.objects.bulk_create(
        MembershipPeriod(
            member=member,
            organization=record.organization,
            period=DateRange(starts_on, None),
        )
        for member, record in zip(members, batch, strict=True)
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=actor,
            action="member.create",
            member=member,
            organization=record.organization,
            details={"via": "roster.import", "row": record.row},
        )
        for member, record in zip(members, batch, strict=True)
    )


def _audit(report: ImportReport, *, actor: User | None) -> None:
    AuditEvent.objects.create(
        actor=actor,
        action="roster.import",
        organization=report.organization,
        details={
            "file": report.file_name,
            "by": "operator command" if actor is None else "user",
            "rows": report.rows,
            "valid": report.valid,
            "imported": report.imported,
            "unchanged": len(report.unchanged),
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "all_or_nothing": report.all_or_nothing,
        },
    )


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
