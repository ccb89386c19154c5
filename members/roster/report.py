"""The row report of a roster import: issues, valid records, counts."""

import datetime
from dataclasses import dataclass, field
from typing import Any

from organizations.models import Organization

GENDER_LABELS = {"male": "男", "female": "女"}


@dataclass(frozen=True)
class Issue:
    """One finding about one cell: where, which stable code, and why."""

    row: int
    column: str
    code: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "value": self.value,
            "message": str(self.message),
        }


@dataclass
class Record:
    """A valid row, as the Member fields it will be written with."""

    row: int
    organization: Organization
    id_as_given: str
    fields: dict[str, Any]
    compared: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        f = self.fields
        return {
            "row": self.row,
            "name": f["name"],
            "id_number": f["id_number"],
            "id_as_given": self.id_as_given,
            "gender": GENDER_LABELS[f["gender"]],
            "birth_date": _iso(f["birth_date"]),
            "joined_on": _iso(f["joined_on"]),
            "full_member_on": _iso(f["full_member_on"]),
            "status": f["status"],
            "ethnicity_code": f["ethnicity_id"],
            "education_code": f["education_id"],
            "occupation_code": f["occupation_id"],
            "phone": f["phone"],
            "work_unit": f["work_unit"],
            "file_custodian": f["file_custodian"],
            "is_migrant_worker": f["is_migrant_worker"],
            "hukou_region_code": f["hukou_region_id"],
            "hukou_address": f["hukou_address"],
            "residence_region_code": f["residence_region_id"],
            "residence_address": f["residence_address"],
            "organization_code": self.organization.code,
        }


@dataclass
class ImportReport:
    """What a preview found, or a commit wrote, row by row."""

    file_name: str
    organization: Organization
    all_or_nothing: bool = False
    format: str = ""
    sheet: str = ""
    encoding: str = ""
    header_row: int | None = None
    id_column: str = ""
    rows: int = 0
    imported: int = 0
    committed: bool = False
    unchanged: list[int] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return len(self.records)

    @property
    def refused(self) -> bool:
        return self.all_or_nothing and bool(self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file_name,
            "organization": self.organization.code,
            "format": self.format,
            "sheet": self.sheet,
            "encoding": self.encoding,
            "header_row": self.header_row,
            "rows": self.rows,
            "valid": self.valid,
            "imported": self.imported,
            "committed": self.committed,
            "all_or_nothing": self.all_or_nothing,
            "refused": self.refused,
            "unchanged": self.unchanged,
            "errors": [issue.as_dict() for issue in self.errors],
            "warnings": [issue.as_dict() for issue in self.warnings],
            "members": [record.as_dict() for record in self.records],
        }


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None
