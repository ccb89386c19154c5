"""Find the header row of a roster and map its Chinese headers to fields.

Headers are compared after folding: full-width characters, spaces, required
markers (``*``, ``(必填)``) and notes in parentheses
(``党籍状态（正式党员或预备党员）``) are dropped. A column nobody maps is
reported as a warning and otherwise left alone.
"""

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from members.roster.values import as_given

# How far below the top a header may sit (title rows, a "填报单位" line,
# blank rows); real rosters put it within the first few rows.
HEADER_SEARCH_ROWS = 20

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "党员姓名"),
    "id_number": (
        "身份证号",
        "身份证号码",
        "公民身份号码",
        "公民身份证号码",
        "身份证",
        "身份证件号码",
        "证件号码",
    ),
    "gender": ("性别",),
    "ethnicity": ("民族",),
    "birth_date": ("出生日期", "出生年月", "出生年月日"),
    "joined_on": ("入党时间", "入党日期", "加入党组织日期", "入党年月"),
    "full_member_on": ("转正时间", "转正日期", "转为正式党员日期"),
    "status": ("党籍状态", "党员类别", "预/正"),
    "education": ("学历", "最高学历", "文化程度"),
    "work_unit": ("工作单位", "单位", "所在单位"),
    "occupation": ("职业", "从业类型", "新就业形态类型"),
    "phone": ("联系电话", "手机号码", "手机", "电话", "手机号", "联系方式"),
    "hukou": ("户籍地", "户籍所在地", "户口所在地", "户籍地址"),
    "residence": ("现居住地", "现住址", "居住地", "现居住地址", "居住地址"),
    "organization_name": ("所在支部", "所在党支部", "党支部", "党支部名称"),
    "organization_code": ("支部编码", "党支部编码", "所在党支部编码"),
    "file_custodian": ("档案托管机构", "人事档案托管机构", "档案托管单位"),
    "is_migrant_worker": ("是否农民工", "农民工"),
}
# Columns that carry no member data: a running number, free remarks.
IGNORED = frozenset({"序号", "编号", "备注", "说明"})
REQUIRED = ("name", "id_number", "joined_on")

_FIELD_BY_HEADER = {
    alias: field_name for field_name, aliases in ALIASES.items() for alias in aliases
}
_NOTES = re.compile(r"[(（\[【].*?[)）\]】]")


def normalise_header(value: Any) -> str:
    """Fold a header cell to the form the alias table is written in."""
    text = unicodedata.normalize("NFKC", as_given(value))
    text = _NOTES.sub("", text)
    text = re.sub(r"\s+", "", text)
    return text.strip("*:：")


def field_for(value: Any) -> str | None:
    return _FIELD_BY_HEADER.get(normalise_header(value))


@dataclass(frozen=True)
class Column:
    """One mapped column: where it is, what it fills, how it was written."""

    index: int
    field: str
    header: str


@dataclass
class Header:
    """The header row found in a file and what its columns mean."""

    row: int
    columns: dict[str, Column] = field(default_factory=dict)
    unknown: list[tuple[int, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)

    def header_of(self, field_name: str) -> str:
        column = self.columns.get(field_name)
        return column.header if column else ""

    @property
    def missing(self) -> list[str]:
        return [f for f in REQUIRED if f not in self.columns]


def read_header(row_number: int, cells: Sequence[Any]) -> Header:
    """Map the cells of one row to fields."""
    header = Header(row=row_number)
    for index, cell in enumerate(cells):
        written = as_given(cell)
        if not written:
            continue
        field_name = field_for(cell)
        if field_name is None:
            if normalise_header(cell) in IGNORED:
                header.ignored.append(index)
            else:
                header.unknown.append((index, written))
        elif field_name in header.columns:
            header.duplicates.append((index, written))
        else:
            header.columns[field_name] = Column(index, field_name, written)
    return header


def looks_like_header(cells: Sequence[Any]) -> bool:
    fields = {field_for(cell) for cell in cells if as_given(cell)}
    return {"name", "id_number"} <= fields


def find_header(rows: Iterator[tuple[int, Sequence[Any]]]) -> Header | None:
    """Consume rows up to the header among the first ones and return it.

    The caller goes on reading data rows from the same iterator.
    """
    for seen, (number, cells) in enumerate(rows, start=1):
        if looks_like_header(cells):
            return read_header(number, cells)
        if seen >= HEADER_SEARCH_ROWS:
            break
    return None
