"""Import a course's questions from an XLSX workbook, with a row report.

Columns, found by their header (Chinese or English, in any order, below
any title rows): 题型 (单选/多选/判断 or single/multiple/true_false),
题目, 选项A to 选项F, 答案 ("B", "ACD"; 对/错, 正确/错误, T/F for a
true/false question) and 解析. Every row gets a line in the report: ok,
or an error with the reason; bad rows are skipped and the good ones are
written together in one transaction. A file refused as a whole (not an
XLSX workbook, too large, no header) raises :class:`QuestionFileError`
and writes nothing.

The workbook is read by the roster import's reader (``members.roster``),
which already guards against macros and zip bombs.
"""

import io
import logging
import string
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from learning.models import Course, Question
from members.models import User
from members.roster.reader import RosterFileError, open_tables
from members.services._common import audit_record, require_write
from organizations.scope import Scope

logger = logging.getLogger(__name__)

Kind = Question.Kind
Source = str | Path | IO[bytes]

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
LETTERS = string.ascii_uppercase[:6]
# The header is looked for in this many rows from the top of the sheet.
HEADER_SEARCH_ROWS = 10
_ZIP_MAGIC = b"PK\x03\x04"

KINDS = {
    "单选": Kind.SINGLE,
    "单选题": Kind.SINGLE,
    "single": Kind.SINGLE,
    "多选": Kind.MULTIPLE,
    "多选题": Kind.MULTIPLE,
    "multiple": Kind.MULTIPLE,
    "判断": Kind.TRUE_FALSE,
    "判断题": Kind.TRUE_FALSE,
    "true_false": Kind.TRUE_FALSE,
    "truefalse": Kind.TRUE_FALSE,
}
TRUE_FALSE = {
    "对": 1,
    "正确": 1,
    "是": 1,
    "√": 1,
    "T": 1,
    "TRUE": 1,
    "错": 0,
    "错误": 0,
    "否": 0,
    "×": 0,
    "F": 0,
    "FALSE": 0,
}
HEADERS = {
    "题型": "kind",
    "kind": "kind",
    "type": "kind",
    "题目": "text",
    "题干": "text",
    "text": "text",
    "question": "text",
    "答案": "answer",
    "正确答案": "answer",
    "answer": "answer",
    "解析": "explanation",
    "explanation": "explanation",
}
REQUIRED = ("kind", "text", "answer")


class QuestionFileError(Exception):
    """A file refused as a whole; ``code`` is stable, ``message`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RowResult:
    """One data row of the file: imported (ok) or skipped with the reason."""

    row: int
    status: str
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "status": self.status, "message": self.message}


@dataclass
class QuestionImport:
    """The row report of one import."""

    rows: list[RowResult] = field(default_factory=list)
    imported: int = 0

    @property
    def errors(self) -> list[RowResult]:
        return [r for r in self.rows if r.status == "error"]


class RowError(Exception):
    """One row (or one typed answer) that cannot become a question."""


def question_import(
    *, actor: User, scope: Scope, course: Course, source: Source
) -> QuestionImport:
    """Import the questions of an XLSX workbook into ``course``."""
    require_write(scope, course.organization)
    data = _read_limited(source)

    report = QuestionImport()
    known = set(course.questions.values_list("text", flat=True))
    questions = []
    for number, cells in _data_rows(data):
        try:
            question = _question(course, cells)
            if question.text in known:
                raise RowError(gettext("The question is already in the course."))
        except RowError as exc:
            report.rows.append(RowResult(number, "error", str(exc)))
            continue
        known.add(question.text)
        questions.append(question)
        report.rows.append(RowResult(number, "ok"))

    with transaction.atomic():
        Question.objects.bulk_create(questions)
        audit_record(
            actor=actor,
            action="question.import",
            organization=course.organization,
            course=course.pk,
            imported=len(questions),
            skipped=len(report.errors),
        )
    report.imported = len(questions)
    logger.info("course %s: %s questions imported", course.pk, len(questions))
    return report


def _read_limited(source: Source) -> bytes:
    if isinstance(source, str | Path):
        with open(source, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    else:
        source.seek(0)
        data = source.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise QuestionFileError(
            "file_too_large",
            gettext("The file is larger than %(max)s.")
            % {"max": filesizeformat(MAX_BYTES)},
        )
    if not data.startswith(_ZIP_MAGIC):
        raise _not_xlsx()
    return data


def _data_rows(data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number, cells by field) for each non-blank data row."""
    try:
        with open_tables(io.BytesIO(data)) as tables:
            if not tables:
                raise _not_xlsx()
            rows = list(_first_rows(tables[0].rows))
    except RosterFileError as exc:
        if exc.code == "file_format":
            raise _not_xlsx() from exc
        raise QuestionFileError(exc.code, str(exc.message)) from exc

    header_at, columns = _header(rows)
    for number, values in rows[header_at:]:
        cells = {
            name: values[i] if i < len(values) else None for i, name in columns.items()
        }
        if any(_text(v) for v in cells.values()):
            yield number, cells


def _first_rows(rows: Iterator[tuple[int, Sequence[Any]]]) -> Iterator[Any]:
    for count, row in enumerate(rows):
        if count > MAX_ROWS + HEADER_SEARCH_ROWS:
            raise QuestionFileError(
                "file_too_many_rows",
                gettext("The file has more than %(max)s rows.") % {"max": MAX_ROWS},
            )
        yield row


def _header(rows: list) -> tuple[int, dict[int, str]]:
    for position, (_number, values) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = {i: _field(v) for i, v in enumerate(values) if _field(v)}
        if set(REQUIRED) <= set(columns.values()):
            return position + 1, columns
    raise QuestionFileError(
        "file_header",
        gettext("No header row with the columns 题型, 题目 and 答案 was found."),
    )


def _field(header: Any) -> str:
    name = _normal(header).lower().replace(" ", "")
    if name in HEADERS:
        return HEADERS[name]
    for prefix in ("选项", "option", ""):
        letter = name.removeprefix(prefix).upper()
        if name.startswith(prefix) and len(letter) == 1 and letter in LETTERS:
            return f"option_{letter}"
    return ""


def _question(course: Course, cells: dict[str, Any]) -> Question:
    kind = KINDS.get(_normal(cells.get("kind")).lower().replace(" ", ""))
    if kind is None:
        raise RowError(
            gettext("Unknown question type “%(kind)s”.")
            % {"kind": _text(cells["kind"])}
        )
    text = _text(cells.get("text"))
    if not text:
        raise RowError(gettext("The question text is empty."))
    options = [] if kind == Kind.TRUE_FALSE else _options(cells)
    explanation = _text(cells.get("explanation"))
    _check_lengths(text, options, explanation)
    return Question(
        course=course,
        kind=kind,
        text=text,
        options=options,
        answer=parse_answer(kind, _text(cells.get("answer")), options),
        explanation=explanation,
    )


# A question is read on a phone: longer cells are a wrong column or a paste.
MAX_TEXT, MAX_OPTION, MAX_EXPLANATION = 1000, 300, 2000


def _check_lengths(text: str, options: list[str], explanation: str) -> None:
    if len(text) > MAX_TEXT:
        raise RowError(
            gettext("The question is longer than %(n)s characters.") % {"n": MAX_TEXT}
        )
    if any(len(option) > MAX_OPTION for option in options):
        raise RowError(
            gettext("An option is longer than %(n)s characters.") % {"n": MAX_OPTION}
        )
    if len(explanation) > MAX_EXPLANATION:
        raise RowError(
            gettext("The explanation is longer than %(n)s characters.")
            % {"n": MAX_EXPLANATION}
        )


def _options(cells: dict[str, Any]) -> list[str]:
    given = [_text(cells.get(f"option_{letter}")) for letter in LETTERS]
    while given and not given[-1]:
        given.pop()
    if "" in given:
        raise RowError(gettext("An option is empty between filled ones."))
    if len(given) < 2:
        raise RowError(gettext("A choice question needs at least two options."))
    return given


def parse_answer(kind: str, given: str, options: list[str]) -> list[int]:
    """An answer as written ("B", "ACD", 对) as option indexes, or RowError."""
    return _answer(kind, _normal(given).upper(), options)


def _answer(kind: str, given: str, options: list[str]) -> list[int]:
    if not given:
        raise RowError(gettext("The answer is missing."))
    if kind == Kind.TRUE_FALSE:
        if given not in TRUE_FALSE:
            raise RowError(
                gettext("A true/false answer must be 对 or 错, not “%(a)s”.")
                % {"a": given}
            )
        return [TRUE_FALSE[given]]

    letters = [c for c in given if c not in " ,，、;；"]
    if not letters:
        raise RowError(gettext("The answer is missing."))
    indexes = sorted({LETTERS.find(c) if c in LETTERS else 99 for c in letters})
    if indexes[-1] >= len(options):
        raise RowError(
            gettext("The answer “%(a)s” names an option beyond the %(n)s given.")
            % {"a": given, "n": len(options)}
        )
    if kind == Kind.SINGLE and len(indexes) != 1:
        raise RowError(gettext("A single-choice question has exactly one answer."))
    if kind == Kind.MULTIPLE and len(indexes) < 2:
        raise RowError(gettext("A multiple-choice question has two answers or more."))
    return indexes


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _normal(value: Any) -> str:
    # Full-width letters and spaces (Ａ, ＡＣＤ) are common in Chinese files.
    return unicodedata.normalize("NFKC", _text(value)).strip()


def _not_xlsx() -> QuestionFileError:
    return QuestionFileError(
        "file_format",
        str(_("The file is not an .xlsx workbook; save it from Excel as .xlsx.")),
    )
