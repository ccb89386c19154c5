"""Storing generated members: the ORM for small runs, COPY for large ones.

Rows whose ID number is already stored (found by its blind index) are
skipped, which makes every run idempotent and lets a larger run complete a
smaller or interrupted one.
"""

import datetime
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connection, connections, transaction
from django.utils import timezone
from psycopg2.extras import DateRange

from members.crypto import blind_index, encrypt
from members.demo.people import MemberRow
from members.models import Member, MembershipPeriod

Progress = Callable[[int], None]

# Every column but the id, which is added once the sequence has given it.
_MEMBER_COLUMNS = (
    "name gender birth_date id_number id_number_hash phone phone_hash ethnicity "
    "education joined_on full_member_on status hukou_region hukou_address "
    "residence_region residence_address work_unit occupation is_migrant_worker "
    "file_custodian lost_contact_since created_at updated_at"
).split()
_PERIOD_COLUMNS = ("organization", "period", "created_at")
# COPY's text format: backslash, tab and line breaks must be escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _existing_hashes(hashes: list[bytes]) -> set[bytes]:
    # The raw cursor, not Django's: with DEBUG on, Django keeps the text of
    # every query, here 50,000 hash literals a chunk, for the whole run.
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id_number_hash FROM {Member._meta.db_table} "  # noqa: S608
            "WHERE id_number_hash = ANY(%s)",
            [hashes],
        )
        return {bytes(value) for (value,) in cursor.fetchall()}


# --- the ORM, for demo-sized runs -------------------------------------------


def _plain_fields(row: MemberRow) -> dict:
    return dict(
        name=row.name,
        gender=row.gender,
        birth_date=row.birth_date,
        ethnicity_id=row.ethnicity,
        education_id=row.education,
        joined_on=row.joined_on,
        full_member_on=row.full_member_on,
        status=row.status,
        hukou_region_id=row.hukou_region,
        hukou_address=row.hukou_address,
        residence_region_id=row.residence_region,
        residence_address=row.residence_address,
        work_unit=row.work_unit,
        occupation_id=row.occupation,
        is_migrant_worker=row.is_migrant_worker,
        file_custodian=row.file_custodian,
        lost_contact_since=row.lost_contact_since,
    )


@transaction.atomic
def _store_orm(rows: list[MemberRow], org_ids: dict[str, int]) -> int:
    hashes = [blind_index(row.id_number) for row in rows]
    known = _existing_hashes(hashes)
    fresh = [(r, h) for r, h in zip(rows, hashes, strict=True) if h not in known]
    members = Member.objects.bulk_create(
        [
            Member(
                id_number=row.id_number,
                id_number_hash=id_hash,
                phone=row.phone,
                phone_hash=blind_index(row.phone),
                **_plain_fields(row),
            )
            for row, id_hash in fresh
        ],
        batch_size=1_000,
    )
    MembershipPeriod.objects.bulk_create(
        [
            MembershipPeriod(
                member=member,
                organization_id=org_ids[row.organization_code],
                period=DateRange(row.period_start, None),
            )
            for member, (row, _hash) in zip(members, fresh, strict=True)
        ],
        batch_size=1_000,
    )
    return len(fresh)


# --- COPY, for millions ------------------------------------------------------


@dataclass
class _CopyChunk:
    """COPY lines for one chunk, each still without its member id."""

    hashes: list[bytes]
    members: list[str]
    periods: list[str]


def _text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


def _date(value: datetime.date | None) -> str:
    return "\\N" if value is None else value.isoformat()


def _bytea(value: bytes) -> str:
    # bytea in COPY's text format is \x<hex>, whose backslash is escaped.
    return "\\\\x" + value.hex()


def _prepare(rows: list[MemberRow], org_ids: dict[str, int]) -> _CopyChunk:
    # The purposes are the model fields' own, so the ORM opens these values.
    id_purpose = Member._meta.get_field("id_number").purpose
    phone_purpose = Member._meta.get_field("phone").purpose
    now = timezone.now().isoformat()
    chunk = _CopyChunk(hashes=[], members=[], periods=[])
    for row in rows:
        id_hash = blind_index(row.id_number)
        chunk.hashes.append(id_hash)
        fields = (
            _text(row.name), row.gender, row.birth_date.isoformat(),
            encrypt(row.id_number, purpose=id_purpose), _bytea(id_hash),
            encrypt(row.phone, purpose=phone_purpose),
            _bytea(blind_index(row.phone)), row.ethnicity, row.education,
            row.joined_on.isoformat(), _date(row.full_member_on), row.status,
            row.hukou_region, _text(row.hukou_address), row.residence_region,
            _text(row.residence_address), _text(row.work_unit), row.occupation,
            "t" if row.is_migrant_worker else "f", _text(row.file_custodian),
            _date(row.lost_contact_since), now, now,
        )  # fmt: skip
        chunk.members.append("\t".join(fields))
        chunk.periods.append(
            f"{org_ids[row.organization_code]}\t[{row.period_start.isoformat()},)"
            f"\t{now}"
        )
    return chunk


def _columns(model, names: Iterable[str]) -> str:
    return ", ".join(model._meta.get_field(name).column for name in names)


def _copy(cursor, model, names: Iterable[str], lines: Iterator[str]) -> None:
    buffer = io.StringIO("".join(lines))
    columns = _columns(model, names)
    cursor.copy_expert(f"COPY {model._meta.db_table} ({columns}) FROM STDIN", buffer)


@transaction.atomic
def _write(chunk: _CopyChunk) -> int:
    known = _existing_hashes(chunk.hashes)
    fresh = [i for i, h in enumerate(chunk.hashes) if h not in known]
    if not fresh:
        return 0
    with connection.cursor() as cursor:
        # A crash may then lose the last chunks committed, which the next
        # run regenerates; waiting for each chunk to reach the disk buys
        # nothing.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        # Ids come from the sequence first, so that the periods can refer
        # to their members without reading anything back.
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
            "FROM generate_series(1, %s)",
            [Member._meta.db_table, len(fresh)],
        )
        ids = [value for (value,) in cursor.fetchall()]
        pairs = list(zip(ids, fresh, strict=True))
        _copy(cursor, Member, ["id", *_MEMBER_COLUMNS],
              (f"{pk}\t{chunk.members[i]}\n" for pk, i in pairs))  # fmt: skip
        _copy(cursor, MembershipPeriod, ["member", *_PERIOD_COLUMNS],
              (f"{pk}\t{chunk.periods[i]}\n" for pk, i in pairs))  # fmt: skip
    return len(fresh)


def _write_in_background(
    chunks: Iterator[list[MemberRow]], org_ids: dict[str, int], progress: Progress
) -> int:
    # Generating and encrypting is Python's work, COPY and the foreign-key
    # checks at commit are PostgreSQL's: a writer thread with its own
    # connection lets the two overlap on two cores. At most one chunk waits,
    # so memory stays flat.
    created = 0
    pending: tuple[Future, int] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-copy") as writer:
        try:
            for rows in chunks:
                prepared = _prepare(rows, org_ids)
                if pending is not None:
                    created += _settle(*pending, progress)
                pending = writer.submit(_write, prepared), len(rows)
            if pending is not None:
                created += _settle(*pending, progress)
        finally:
            # Evaluated in the writer thread: closes that thread's connection.
            writer.submit(connections.close_all).result()
    return created


def _settle(written: Future, size: int, progress: Progress) -> int:
    created = written.result()
    progress(size)
    return created


def store_members(
    rows: Iterator[MemberRow],
    org_ids: dict[str, int],
    *,
    bulk: bool,
    chunk_size: int,
    progress: Progress,
) -> int:
    """Store the rows whose ID number is not stored yet; return how many.

    ``progress`` is called with the number of rows handled after each chunk.
    """
    chunks = iter(lambda: list(itertools.islice(rows, chunk_size)), [])
    # Inside an outer transaction (tests) another connection would not see
    # the organisations just created, so the writer stays on this thread.
    if bulk and not connection.in_atomic_block:
        return _write_in_background(chunks, org_ids, progress)
    created = 0
    for chunk in chunks:
        created += (
            _write(_prepare(chunk, org_ids)) if bulk else _store_orm(chunk, org_ids)
        )
        progress(len(chunk))
    return created
