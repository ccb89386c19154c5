"""Turn one data row of a roster into a valid record or into its issues."""

import datetime
from collections.abc import Iterator, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from members.crypto import blind_index
from members.identity import IdentityError, IdNumber, parse_id_number, parse_phone
from members.roster import addresses
from members.roster.addresses import RegionIndex
from members.roster.codes import CodeMatcher, load_matchers
from members.roster.columns import Header
from members.roster.reader import RosterFileError
from members.roster.report import ImportReport, Issue, Record
from members.roster.values import (
    ParsedDate,
    ValueProblem,
    as_given,
    as_text,
    check_name,
    id_text,
    normalise_name,
    parse_date,
    parse_flag,
    parse_gender,
    parse_status,
    phone_text,
)
from members.services import Identity, validate_record
from organizations.models import Organization

MAX_ROWS = 1_000_000
_TEXT_LIMITS = {
    "work_unit": 128,
    "file_custodian": 128,
    "hukou": 255,
    "residence": 255,
}
# Fields compared to decide that a row equals the member already stored;
# the first ones are always set, the others only when the file has them.
_ALWAYS_COMPARED = (
    "name",
    "gender",
    "birth_date",
    "joined_on",
    "full_member_on",
    "status",
)
_COMPARED_BY_COLUMN = {
    "ethnicity": ("ethnicity_id",),
    "education": ("education_id",),
    "occupation": ("occupation_id",),
    "phone": ("phone_hash",),
    "work_unit": ("work_unit",),
    "file_custodian": ("file_custodian",),
    "is_migrant_worker": ("is_migrant_worker",),
    "hukou": ("hukou_region_id", "hukou_address"),
    "residence": ("residence_region_id", "residence_address"),
}


def header_warnings(header: Header) -> Iterator[Issue]:
    """Warn once for each header that is not imported."""
    for _index, written in header.unknown:
        yield Issue(
            header.row,
            written,
            "column_unknown",
            written,
            str(_("This column is not imported.")),
        )
    for _index, written in header.duplicates:
        yield Issue(
            header.row,
            written,
            "column_duplicate",
            written,
            str(_("Another column already gives this field; this one is ignored.")),
        )


class RowChecker:
    """Turns one data row into a Record, or into the issues that stop it."""

    def __init__(
        self,
        *,
        header: Header,
        organization: Organization,
        today: datetime.date,
        date1904: bool,
    ):
        self.header = header
        self.target = organization
        self.today = today
        self.date1904 = date1904
        self.regions = RegionIndex.load()
        self.codes = load_matchers()
        self.organizations = _Organizations(organization, header)
        self.seen: dict[str, int] = {}
        # Every column but a running number or a remark counts: a row with
        # data only in an unknown column is reported, never dropped unseen.
        self.data_indexes = [
            *(c.index for c in header.columns.values()),
            *(index for index, _written in header.unknown),
        ]
        self.order = {c.header: c.index for c in header.columns.values()}
        self.compared = self._compared()

    def check(self, number: int, cells: Sequence[Any], report: ImportReport) -> bool:
        """Check one row into ``report``; False when the row holds no data."""
        if not any(as_text(_cell(cells, i)) for i in self.data_indexes):
            return False  # blank, or only a running number or a remark
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise RosterFileError(
                "file_too_large",
                _("At most %(count)s rows per file.") % {"count": MAX_ROWS},
            )
        row = _Row(number, cells, self.header)
        record = self._record(row)
        # A row's issues read left to right, as its columns do.
        report.errors.extend(sorted(row.errors, key=self._column_order))
        report.warnings.extend(sorted(row.warnings, key=self._column_order))
        if record is not None and not row.errors:
            report.records.append(record)
        return True

    def _record(self, row: "_Row") -> Record | None:
        parsed = self._id_number(row)
        gender = row.parse("gender", parse_gender)
        birth, joined, full = self._dates(row)
        fields = self._fields(row, full)
        organization = self.organizations.find(row)
        if row.errors or parsed is None:
            return None

        identity = self._identity(row, parsed, gender, birth, joined, full)
        if identity is None:
            return None
        return Record(
            row=row.number,
            organization=organization,
            id_as_given=as_given(row.raw("id_number")),
            fields={
                **fields,
                "gender": parsed.gender,
                "birth_date": parsed.birth_date,
                "id_number": identity.value,
                "id_number_hash": identity.hash,
                "joined_on": joined.value,
                "full_member_on": full.value if full else None,
            },
            compared=self.compared,
        )

    def _dates(self, row: "_Row") -> tuple[ParsedDate | None, ...]:
        birth = row.parse("birth_date", self._date)
        joined = row.parse("joined_on", self._date)
        full = row.parse("full_member_on", self._date)
        if joined is None and not row.failed("joined_on"):
            row.error("joined_on", "value_missing", _("This value is required."))
        # validate_record has no rule for a full-member date in the future;
        # a roster that claims one is wrong, so the import refuses it.
        if full is not None and full.value > self.today:
            row.error(
                "full_member_on", "date_in_future", _("The date is in the future.")
            )
        return birth, joined, full

    def _fields(self, row: "_Row", full: ParsedDate | None) -> dict[str, Any]:
        status = self._status(row, full)
        phone = self._phone(row)
        hukou_id, hukou_text = self._region(row, "hukou")
        home_id, home_text = self._region(row, "residence")
        return {
            "name": self._name(row),
            "phone": phone,
            "phone_hash": blind_index(phone) if phone else None,
            "status": status or ("full" if full else "probationary"),
            "ethnicity_id": self._code(row, "ethnicity"),
            "education_id": self._code(row, "education"),
            "occupation_id": self._code(row, "occupation"),
            "hukou_region_id": hukou_id,
            "hukou_address": hukou_text,
            "residence_region_id": home_id,
            "residence_address": home_text,
            "work_unit": self._text(row, "work_unit"),
            "file_custodian": self._text(row, "file_custodian"),
            "is_migrant_worker": bool(row.parse("is_migrant_worker", parse_flag)),
        }

    def _identity(
        self,
        row: "_Row",
        parsed: IdNumber,
        gender: str | None,
        birth: ParsedDate | None,
        joined: ParsedDate,
        full: ParsedDate | None,
    ) -> Identity | None:
        # The rules every member record keeps, in the one place that holds
        # them (member_create uses the same function).
        try:
            return validate_record(
                id_number=parsed.value,
                birth_date=self._birth_to_check(parsed, birth),
                gender=gender,
                joined_on=joined.value,
                full_member_on=full.value if full else None,
                today=self.today,
            )
        except ValidationError as exc:
            for field_name, errors in exc.error_dict.items():
                for error in errors:
                    # validate_record's field names are the columns' fields.
                    row.error(field_name, error.code, error.message)
            return None

    def _name(self, row: "_Row") -> str:
        name = normalise_name(row.raw("name"))
        try:
            check_name(name)
        except ValueProblem as problem:
            row.error("name", problem.code, problem.message)
        return name

    def _id_number(self, row: "_Row") -> IdNumber | None:
        raw = row.raw("id_number")
        if not as_given(raw):
            row.error("id_number", "value_missing", _("This value is required."))
            return None
        try:
            parsed = parse_id_number(id_text(raw))
        except IdentityError as exc:
            row.error("id_number", exc.code, exc.message)
            return None
        # Any second row with the same person is refused, even when the
        # first one fails for another reason: which row is right is for the
        # file's author to say.
        first = self.seen.setdefault(parsed.value, row.number)
        if first != row.number:
            row.error(
                "id_number",
                "duplicate_in_file",
                _("The same ID number is on row %(row)s.") % {"row": first},
            )
        return parsed

    def _date(self, value: Any) -> ParsedDate | None:
        return parse_date(value, date1904=self.date1904)

    def _birth_to_check(
        self, parsed: IdNumber, birth: ParsedDate | None
    ) -> datetime.date | None:
        # A birth month (出生年月: 1990.05) cannot contradict a day it never
        # gave; it must only agree with the ID number's year and month.
        if birth is None or birth.day_known:
            return birth.value if birth else None
        if birth.value.replace(day=1) == parsed.birth_date.replace(day=1):
            return parsed.birth_date
        return birth.value

    def _status(self, row: "_Row", full: ParsedDate | None) -> str | None:
        status = row.parse("status", parse_status)
        if status == "probationary" and full is not None:
            row.error(
                "status",
                "status_conflict",
                _("A probationary member has no full-member date."),
            )
        return status

    def _phone(self, row: "_Row") -> str:
        text = phone_text(row.raw("phone"))
        if not text:
            return ""
        try:
            return parse_phone(text)
        except IdentityError as exc:
            row.error("phone", exc.code, exc.message)
            return ""

    def _region(self, row: "_Row", column: str) -> tuple[str | None, str]:
        text = as_text(row.raw(column))
        if not text:
            return None, ""
        if len(text) > _TEXT_LIMITS[column]:
            row.error(column, "value_too_long", _("The address is too long."))
            return None, ""
        found = self.regions.resolve(text)
        if found.status == addresses.UNKNOWN_CODE:
            row.error(column, "region_unknown", _("No region has this code."))
            return None, ""
        if found.status == addresses.AMBIGUOUS:
            row.warn(
                column,
                "address_ambiguous",
                _("Several counties have this name (%(codes)s); add the province.")
                % {"codes": ", ".join(found.candidates)},
            )
        elif found.status == addresses.UNRESOLVED:
            row.warn(
                column,
                "address_unresolved",
                _("No county was recognised; the address is kept as text."),
            )
        # A bare code says everything; written text keeps its street detail.
        kept = "" if text == found.code else text
        return found.code, kept

    def _text(self, row: "_Row", column: str) -> str:
        text = as_text(row.raw(column))
        if len(text) > _TEXT_LIMITS[column]:
            row.error(
                column,
                "value_too_long",
                _("At most %(count)s characters.") % {"count": _TEXT_LIMITS[column]},
            )
        return text

    def _code(self, row: "_Row", column: str) -> str | None:
        matcher: CodeMatcher = self.codes[column]
        raw = row.raw(column)
        code = matcher.match(raw)
        if code is None and as_text(raw):
            row.warn(
                column,
                f"{column}_unknown",
                _("Not in the code table; the value is left empty."),
            )
        return code

    def _column_order(self, issue: Issue) -> int:
        return self.order.get(issue.column, -1)

    def _compared(self) -> tuple[str, ...]:
        extra = (
            attname
            for column, attnames in _COMPARED_BY_COLUMN.items()
            if column in self.header.columns
            for attname in attnames
        )
        return (*_ALWAYS_COMPARED, *extra)


class _Row:
    """The cells of one data row and the issues found in them."""

    def __init__(self, number: int, cells: Sequence[Any], header: Header):
        self.number = number
        self.cells = cells
        self.header = header
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []

    def raw(self, column: str) -> Any:
        found = self.header.columns.get(column)
        return None if found is None else _cell(self.cells, found.index)

    def parse(self, column: str, parser) -> Any:
        try:
            return parser(self.raw(column))
        except ValueProblem as problem:
            self.error(column, problem.code, problem.message)
            return None

    def failed(self, column: str) -> bool:
        written = self.header.header_of(column)
        return any(issue.column == written for issue in self.errors)

    def error(self, column: str, code: str, message: Any) -> None:
        self.errors.append(self._issue(column, code, message))

    def warn(self, column: str, code: str, message: Any) -> None:
        self.warnings.append(self._issue(column, code, message))

    def _issue(self, column: str, code: str, message: Any) -> Issue:
        return Issue(
            row=self.number,
            column=self.header.header_of(column),
            code=code,
            value=as_given(self.raw(column)),
            message=str(message),
        )


class _Organizations:
    """The organisations a row may name: the target's subtree."""

    def __init__(self, target: Organization, header: Header):
        self.target = target
        self.by_code: dict[str, Organization] = {}
        self.by_name: dict[str, list[Organization]] = {}
        if {"organization_code", "organization_name"} & header.columns.keys():
            subtree = Organization.objects.filter(path__startswith=target.path)
            for organization in subtree:
                self.by_code[organization.code] = organization
                key = _compact(organization.name)
                self.by_name.setdefault(key, []).append(organization)

    def find(self, row: _Row) -> Organization:
        code = as_text(row.raw("organization_code")).replace(" ", "")
        name = _compact(as_text(row.raw("organization_name")))
        if code:
            found = self.by_code.get(code)
            if found is None:
                row.error("organization_code", "organization_unknown", _UNKNOWN_ORG)
            elif name and _compact(found.name) != name:
                row.error(
                    "organization_name",
                    "organization_mismatch",
                    _("The branch code and the branch name name different branches."),
                )
            return found or self.target
        if name:
            matches = self.by_name.get(name, [])
            if len(matches) == 1:
                return matches[0]
            if matches:
                row.error(
                    "organization_name",
                    "organization_ambiguous",
                    _("Several branches have this name; give the branch code."),
                )
            else:
                row.error("organization_name", "organization_unknown", _UNKNOWN_ORG)
        return self.target


_UNKNOWN_ORG = _("No organisation with this code or name under the target.")


def _cell(cells: Sequence[Any], index: int) -> Any:
    return cells[index] if index < len(cells) else None


def _compact(text: str) -> str:
    return "".join(text.split())
