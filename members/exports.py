"""Roster export: members as CSV under the headers the roster import reads.

A full export by a role that sees full ID numbers imports back unchanged
(issue 3), so every header here is one the import maps
(``members.roster.columns.ALIASES``).
Rows are streamed from a server-side cursor: a million members never sit in
memory at once.
"""

import csv
import datetime
from collections.abc import Iterable, Iterator

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import StreamingHttpResponse

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
)
GENDERS = {Member.Gender.MALE: "男", Member.Gender.FEMALE: "女"}
FLAGS = {True: "是", False: "否"}

# Excel opens UTF-8 correctly only with a byte-order mark. "gbk" is written
# as GB18030: byte for byte the same as GBK for every GBK character, and it
# keeps the rare characters some names use (DESIGN.md §5) instead of
# dropping them.
ENCODINGS = {"utf-8": ("utf-8", "\ufeff"), "gbk": ("gb18030", "")}
CHUNK_SIZE = 2000
ROWS_PER_WRITE = 500

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


def roster_rows(members: QuerySet[Member], *, scope: Scope) -> Iterator[list[str]]:
    """Yield the header, then a row per member, masked as ``scope`` says."""
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
        yield [neutralise(cell) for cell in _cells(member, full=full_by_path[path])]


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


def roster_response(
    members: QuerySet[Member], *, scope: Scope, encoding: str
) -> StreamingHttpResponse:
    """Stream the roster of ``members`` as a CSV download."""
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


def _cells(member: Member, *, full: bool) -> list[str]:
    return [
        member.name,
        member.id_number if full else mask(member.id_number),
        GENDERS.get(member.gender, ""),
        member.ethnicity.name if member.ethnicity else "",
        _date(member.birth_date),
        _date(member.joined_on),
        _date(member.full_member_on),
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
    ]


def _date(value: datetime.date | None) -> str:
    return value.isoformat() if value else ""


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
