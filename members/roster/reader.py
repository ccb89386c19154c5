"""Read roster files (XLSX, XLS, CSV) into numbered rows of cell values.

The format is decided by the file's first bytes, not by its name. A
workbook gives one table per visible sheet, in order (templates often put
their instructions first); a CSV file gives one. Row
numbers are the ones a person sees: 1-based, counting title and blank rows
in a workbook and physical lines in a CSV file. Rows are streamed, so a
100,000-row workbook is never held in memory as a whole.
"""

import codecs
import contextlib
import csv
import io
import logging
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import charset_normalizer
import openpyxl
import xlrd
from django.utils.translation import gettext_lazy as _
from openpyxl.utils.datetime import CALENDAR_MAC_1904

logger = logging.getLogger(__name__)

Source = str | Path | IO[bytes]
Row = tuple[int, Sequence[Any]]

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A roster sheet of a million rows unpacks to a few hundred megabytes of
# XML; anything far above that is a zip bomb, not a roster.
MAX_UNPACKED_BYTES = 1 << 30
# Excel on Chinese Windows writes GBK (or GB18030); everything else we
# accept is UTF-8. Latin-1 or UTF-16 files are refused, never guessed.
CHINESE_ENCODINGS = ("gbk", "gb18030")


class RosterFileError(Exception):
    """A file refused as a whole; ``code`` is stable, ``message`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Table:
    """The rows of a file's roster sheet and how they were read."""

    format: str
    rows: Iterator[Row]
    sheet: str = ""
    encoding: str = ""
    date1904: bool = False


@contextlib.contextmanager
def open_tables(source: Source) -> Iterator[list[Table]]:
    """Open a roster file and yield its tables; the file closes on exit."""
    head = _peek(source, len(_OLE2_MAGIC))
    if head.startswith(_ZIP_MAGIC):
        with _open_xlsx(source) as tables:
            yield tables
    elif head.startswith(_OLE2_MAGIC):
        yield _open_xls(_read_all(source))
    else:
        yield [_open_csv(_read_all(source))]


def _peek(source: Source, size: int) -> bytes:
    if isinstance(source, str | Path):
        with open(source, "rb") as fh:
            return fh.read(size)
    source.seek(0)
    head = source.read(size)
    source.seek(0)
    return head


def _read_all(source: Source) -> bytes:
    if isinstance(source, str | Path):
        return Path(source).read_bytes()
    source.seek(0)
    return source.read()


@contextlib.contextmanager
def _open_xlsx(source: Source) -> Iterator[list[Table]]:
    _check_package(source)
    try:
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # any parse failure means "not a workbook"
        logger.warning("roster workbook unreadable: %s", type(exc).__name__)
        raise _not_a_roster() from exc
    try:
        yield [
            Table(
                format="xlsx",
                rows=_sheet_rows(sheet),
                sheet=sheet.title,
                date1904=workbook.epoch == CALENDAR_MAC_1904,
            )
            for sheet in _visible(workbook.worksheets)
        ]
    finally:
        workbook.close()


def _sheet_rows(sheet: Any) -> Iterator[Row]:
    # Some writers store a wrong sheet size; forgetting it makes the reader
    # follow the cells actually present.
    sheet.reset_dimensions()
    return enumerate(sheet.iter_rows(values_only=True), start=1)


def _check_package(source: Source) -> None:
    try:
        with zipfile.ZipFile(source) as package:
            members = package.infolist()
    except zipfile.BadZipFile as exc:
        raise _not_a_roster() from exc
    finally:
        if not isinstance(source, str | Path):
            source.seek(0)
    names = {member.filename for member in members}
    if "xl/workbook.xml" not in names:
        raise _not_a_roster()
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise RosterFileError(
            "file_macro",
            _("Workbooks with macros are refused; save the roster as .xlsx."),
        )
    if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise RosterFileError("file_too_large", _("The workbook is too large."))


def _visible(sheets: list) -> list:
    return [s for s in sheets if getattr(s, "sheet_state", "visible") == "visible"]


def _open_xls(data: bytes) -> list[Table]:
    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
        sheets = [book.sheet_by_index(i) for i in range(book.nsheets)]
    except (xlrd.XLRDError, ValueError, AssertionError) as exc:
        raise _not_a_roster() from exc
    return [
        Table(
            format="xls",
            rows=_xls_rows(sheet, book.datemode),
            sheet=sheet.name,
            date1904=bool(book.datemode),
        )
        for sheet in sheets
        if sheet.visibility == 0
    ]


def _xls_rows(sheet: Any, datemode: int) -> Iterator[Row]:
    for index in range(sheet.nrows):
        yield index + 1, [_xls_value(cell, datemode) for cell in sheet.row(index)]


def _xls_value(cell: Any, datemode: int) -> Any:
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except (xlrd.xldate.XLDateError, OverflowError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    # BIFF stores every number as a float; whole ones read as openpyxl's do.
    if cell.ctype == xlrd.XL_CELL_NUMBER and cell.value.is_integer():
        if abs(cell.value) < 1e15:
            return int(cell.value)
    return cell.value


def _open_csv(data: bytes) -> Table:
    encoding, text = decode(data)
    return Table(format="csv", rows=_csv_rows(text), encoding=encoding)


def decode(data: bytes) -> tuple[str, str]:
    """Return the encoding of a CSV file and its whole text, or refuse it.

    UTF-8 is checked first by decoding everything strictly: Chinese text in
    GBK almost never forms valid UTF-8, whereas UTF-8 text often decodes
    as GB18030 gibberish. Otherwise charset-normalizer, limited to GBK and
    GB18030, names the encoding, and the whole file must decode in it.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _confirm(data, "utf-8-sig")
    with contextlib.suppress(UnicodeDecodeError):
        return _confirm(data, "utf-8")
    best = charset_normalizer.from_bytes(data, cp_isolation=CHINESE_ENCODINGS).best()
    if best is None:
        raise _bad_encoding()
    # The detector cannot tell GBK from its superset GB18030. GBK (Python's
    # is Microsoft's code page 936, what Excel writes) is tried first, being
    # the narrower and the more faithful for the few code points where the
    # two differ; GB18030 decodes what lies outside it (rare characters).
    for encoding in CHINESE_ENCODINGS:
        with contextlib.suppress(UnicodeDecodeError):
            return _confirm(data, encoding)
    raise _bad_encoding()


def _confirm(data: bytes, encoding: str) -> tuple[str, str]:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        if encoding == "utf-8-sig":
            raise _bad_encoding() from None
        raise
    if "\x00" in text:
        # UTF-16 (Excel's "Unicode text") or binary data.
        raise _bad_encoding()
    return encoding.replace("_", "-"), text


def _csv_rows(text: str) -> Iterator[Row]:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next_line = 1
    try:
        for cells in reader:
            # A quoted cell may span lines; the row is numbered by the line
            # it starts on, as a text editor shows it.
            yield next_line, cells
            next_line = reader.line_num + 1
    except csv.Error as exc:
        raise RosterFileError(
            "file_format",
            _("The CSV file is malformed near line %(line)s.") % {"line": next_line},
        ) from exc


def _bad_encoding() -> RosterFileError:
    return RosterFileError(
        "file_encoding",
        _(
            "The file is not text in UTF-8, GBK or GB18030; save it from Excel "
            'as "CSV UTF-8" or as an .xlsx workbook.'
        ),
    )


def _not_a_roster() -> RosterFileError:
    return RosterFileError(
        "file_format",
        _("The file is not a readable .xlsx, .xls or .csv roster."),
    )
