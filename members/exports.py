"""Roster export: members as CSV or XLSX under the headers the import reads.

A full export by a role that sees full ID numbers imports back unchanged
(issue 3), so every header here is one the import maps
(``members.roster.columns.ALIASES``).
Rows are read from a server-side cursor: a million members never sit in
memory at once. CSV is streamed to the client as it is written; a workbook
is written row by row to a temporary file and then streamed from there.
"""

import csv
import datetime
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

from members.identity import mask
from members.models import Member
from members.selectors import periods_on
from organizations.models import Organization, Region
from organizations.scope import Scope, today

HEADERS = (
    "姓名",
    "身份证号码",
    "性别",
    "民族",
    "出生日期",
    "入党时间",
    "转正时间",
    "学历",
    "工作单位",
    "职业",
    "手机号码",
    "户籍地",
    "现居住地",
    "是否农民工",
    "档案托管机构",
    "所在支部",
    "支部编码",
    # Last, so that the columns before it keep their places. Without it the
    # import would derive the status from the full-member date, and a full
    # member whose date was never recorded would not import back unchanged.
    "党籍状态",
)
GENDERS = {Member.Gender.MALE: "男", Member.Gender.FEMALE: "女"}
# The import reads the first two; the others it refuses (an import never
# creates a suspended or removed member), which the export must not hide.
STATUSES = {
    Member.Status.FULL: "正式党员",
    Member.Status.PROBATIONARY: "预备党员",
    Member.Status.SUSPENDED: "停止党籍",
    Member.Status.DECEASED: "已去世",
    Member.Status.REMOVED: "已出党",
    Member.Status.TRANSFERRED_OUT: "已转出",
}
FLAGS = {True: "是", False: "否"}

# Excel opens UTF-8 correctly only with a byte-order mark. "gbk" is written
# as GB18030: byte for byte the same as GBK for every GBK character, and it
# keeps the rare characters some names use (DESIGN.md §5) instead of
# dropping them.
ENCODINGS = {"utf-8": ("utf-8", "\ufeff"), "gbk": ("gb18030", "")}
FORMATS = ("csv", "xlsx")
CHUNK_SIZE = 2000
ROWS_PER_WRITE = 500
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROSTER_SHEET = "党员花名册"
# Written as text cells, so that a spreadsheet never turns an ID number into
# 4.30102E+17 or drops a phone's leading zero, even when the cell is edited.
TEXT_COLUMNS = frozenset(HEADERS.index(h) for h in ("身份证号码", "手机号码"))

# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Make a cell read as text in a spreadsheet, never as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def roster_masked(scope: Scope) -> bool:
    """Whether an export by ``scope`` masks some ID numbers and phones."""
    if scope.is_operator:
        return False
    return not all(_sees_full_ids(scope, path) for path in scope.read_paths)


def roster_values(members: QuerySet[Member], *, scope: Scope) -> Iterator[list[Any]]:
    """Yield the header, then a row of values per member.

    Masked as ``scope`` says; dates are ``datetime.date``, the rest text.
    """
    yield list(HEADERS)
    current = periods_on(today()).filter(member=OuterRef("pk"))
    members = members.select_related(
        "ethnicity",
        "education",
        "occupation",
        "hukou_region__parent__parent",
        "residence_region__parent__parent",
    ).annotate(
        export_organization_path=Subquery(current.values("organization__path")[:1]),
        export_organization_name=Subquery(current.values("organization__name")[:1]),
        export_organization_code=Subquery(current.values("organization__code")[:1]),
    )
    # Members of one organisation share the answer; asking once per
    # organisation keeps a million rows from costing a million checks.
    full_by_path: dict[str | None, bool] = {}
    for member in members.iterator(chunk_size=CHUNK_SIZE):
        path = member.export_organization_path
        if path not in full_by_path:
            full_by_path[path] = _sees_full_ids(scope, path)
        yield _cells(member, full=full_by_path[path])


def roster_rows(members: QuerySet[Member], *, scope: Scope) -> Iterator[list[str]]:
    """Yield the header, then a row per member as CSV text, masked."""
    for row in roster_values(members, scope=scope):
        yield [neutralise(_text(value)) for value in row]


def roster_csv(rows: Iterable[list[str]], *, encoding: str) -> Iterator[bytes]:
    """Encode rows as CSV in chunks of bytes, after any byte-order mark."""
    codec, prefix = ENCODINGS[encoding]
    writer = csv.writer(_Passthrough())
    lines = [prefix]
    for row in rows:
        lines.append(writer.writerow(row))
        if len(lines) >= ROWS_PER_WRITE:
            yield "".join(lines).encode(codec)
            lines = []
    if lines:
        yield "".join(lines).encode(codec)


def roster_xlsx(members: QuerySet[Member], *, scope: Scope) -> IO[bytes]:
    """Write the roster of ``members`` as a workbook in a temporary file."""
    return xlsx_file(
        [(ROSTER_SHEET, roster_values(members, scope=scope), TEXT_COLUMNS)]
    )


def xlsx_file(
    sheets: Iterable[tuple[str, Iterable[Sequence[Any]], frozenset[int]]],
) -> IO[bytes]:
    """Write sheets of rows into a workbook in a temporary file, rewound.

    Each sheet is a title, its rows, and the column indexes written as text.
    The file is deleted when it is closed.
    """
    # write_only: openpyxl streams each sheet's rows to disk as they come
    # and writes strings inline, so memory stays flat at a million rows.
    workbook = Workbook(write_only=True)
    for title, rows, text_columns in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(
                [
                    _xlsx_cell(sheet, value, text=index in text_columns)
                    for index, value in enumerate(row)
                ]
            )
    # Closed (and so deleted) by whoever reads it: the response, at the end.
    out = tempfile.TemporaryFile()
    try:
        workbook.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def roster_response(
    members: QuerySet[Member], *, scope: Scope, encoding: str, file_format: str = "csv"
) -> StreamingHttpResponse | FileResponse:
    """Send the roster of ``members`` as a CSV (streamed) or XLSX download."""
    if file_format == "xlsx":
        # TODO: build large workbooks in a Celery task and offer the file
        # when ready (a million rows take about 15 minutes, too long for a
        # request; see docs/benchmarks.md); waits for the background report
        # exports of issue 9.
        response = FileResponse(
            roster_xlsx(members, scope=scope),
            as_attachment=True,
            filename=f"roster-{today():%Y%m%d}.xlsx",
            content_type=XLSX_CONTENT_TYPE,
        )
        response["Cache-Control"] = "no-store"
        return response
    codec, _prefix = ENCODINGS[encoding]
    response = StreamingHttpResponse(
        roster_csv(roster_rows(members, scope=scope), encoding=encoding),
        content_type=f"text/csv; charset={codec}",
    )
    filename = f"roster-{today():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class _Passthrough:
    """A file-like object whose write returns the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def _cells(member: Member, *, full: bool) -> list[Any]:
    return [
        member.name,
        member.id_number if full else mask(member.id_number),
        GENDERS.get(member.gender, ""),
        member.ethnicity.name if member.ethnicity else "",
        member.birth_date,
        member.joined_on,
        member.full_member_on,
        member.education.name if member.education else "",
        member.work_unit,
        member.occupation.name if member.occupation else "",
        member.phone if full else mask(member.phone),
        _place(member.hukou_region, member.hukou_address),
        _place(member.residence_region, member.residence_address),
        FLAGS[member.is_migrant_worker],
        member.file_custodian,
        member.export_organization_name or "",
        member.export_organization_code or "",
        STATUSES.get(member.status, ""),
    ]


def _text(value: str | datetime.date | None) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value or ""


def _xlsx_cell(sheet: Any, value: Any, *, text: bool) -> Any:
    """A value as openpyxl should write it: a date cell, a number, or text."""
    if not isinstance(value, str):
        return value
    # Control characters are not allowed in the XML of a workbook.
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    formula_like = value.startswith(_FORMULA_STARTS) or value in ERROR_CODES
    if not (text or formula_like):
        return value
    # A workbook says a cell's type outright: a text cell is never run as a
    # formula, so the value is kept exactly as it is (it imports back
    # unchanged) instead of being prefixed with an apostrophe as in CSV.
    # The quote prefix (or the text format) keeps it text when edited.
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    if text:
        cell.number_format = "@"
    else:
        cell.quotePrefix = True
    return cell


def _place(region: Region | None, address: str) -> str:
    # The import resolves an address written as text to its county; writing
    # the region's full name in front of the street makes that certain.
    if region is None:
        return address
    names = []
    while region is not None:
        names.append(region.name)
        region = region.parent
    full_name = "".join(reversed(names))
    return address if address.startswith(full_name) else full_name + address


def _sees_full_ids(scope: Scope, path: str | None) -> bool:
    # The scope answers for an organisation; only its path matters, and the
    # export has the path from its annotation without loading the row.
    if scope.is_operator:
        return True
    return path is not None and scope.sees_full_ids(Organization(path=path))
