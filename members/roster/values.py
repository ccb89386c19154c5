"""Turn the cell values people type into roster files into clean values.

Every parser either returns a value or raises :class:`ValueProblem` with a
stable ``code``; none of them guesses. Names are folded with care: only
full-width ASCII and odd spaces are changed, never CJK compatibility
ideographs or characters outside the basic multilingual plane, because a
name must keep the exact characters its owner writes.
"""

import datetime
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from members.identity import IdentityError, check_character

# Full-width ASCII (U+FF01..U+FF5E) maps onto ASCII by a fixed offset.
_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_SPACES = {
    code: " "
    for code in (0x00A0, 0x1680, 0x202F, 0x205F, 0x3000, *range(0x2000, 0x200B))
}
_INVISIBLE = {code: None for code in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)}
_FOLD = {**_WIDTH, **_SPACES, **_INVISIBLE, ord("\t"): " "}
_NEEDS_FOLD = re.compile("[" + "".join(re.escape(chr(code)) for code in _FOLD) + "]")
_MESSY_SPACE = re.compile(r"\s\s|[^\S ]")

# Separators people type between the parts of a transliterated name:
# middle dot, katakana middle dot (full and half width), bullet, hyphenation
# point, dot operators, word separator, full stop (full width folds to it).
_NAME_DOTS = "·・･•‧∙⋅⸱."
_NAME_DOT = "\u00b7"
_DOT_RUN = re.compile(f"\\s*[{re.escape(_NAME_DOTS)}]+\\s*")
_OTHER_DOT_RUN = re.compile(f"\\s*[{re.escape(_NAME_DOTS[:-1])}]+\\s*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
_SPACE_RUN = re.compile(r"\s+")

_EXCEL_1900 = datetime.date(1899, 12, 30)
_EXCEL_1904 = datetime.date(1904, 1, 1)
_SERIAL = re.compile(r"^\d{1,5}(\.0+)?$")
_TIME_TAIL = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DAY_FORMS = (
    re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}}){_TIME_TAIL}$"),
    re.compile(rf"^(\d{{4}})/(\d{{1,2}})/(\d{{1,2}}){_TIME_TAIL}$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_MONTH_FORMS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月?$"),
    re.compile(r"^(\d{4})(\d{2})$"),
)
_FIRST_YEAR, _LAST_YEAR = 1900, 2100

_GENDERS = {
    "男": "male",
    "男性": "male",
    "m": "male",
    "male": "male",
    "女": "female",
    "女性": "female",
    "f": "female",
    "female": "female",
}
_STATUSES = {
    "正式党员": "full",
    "正式": "full",
    "正": "full",
    "预备党员": "probationary",
    "预备": "probationary",
    "预": "probationary",
}
_BOOLEANS = {"是": True, "否": False, "y": True, "n": False, "yes": True, "no": False}


class ValueProblem(ValueError):
    """A cell value that cannot be used; ``code`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParsedDate:
    """A date and whether the file gave the day or only the month."""

    value: datetime.date
    day_known: bool = True


def fold(text: str) -> str:
    """Fold full-width ASCII and odd spaces; drop zero-width characters."""
    # Most cells need no folding; finding that out in C is much cheaper
    # than translating every character (this runs for every cell).
    return text.translate(_FOLD) if _NEEDS_FOLD.search(text) else text


def as_text(value: Any) -> str:
    """Return a cell value as trimmed text, the way a person reads it."""
    if type(value) is str:
        text = fold(value)
        if _MESSY_SPACE.search(text):
            text = _SPACE_RUN.sub(" ", text)
        text = text.strip()
        # ="..." is how spreadsheets are told to keep digits as text.
        if text.startswith('="') and text.endswith('"') and len(text) >= 3:
            text = text[2:-1].strip()
        return text
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return as_text(str(value))


def as_given(value: Any) -> str:
    """Return a cell value as written, for reports (no folding)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return str(value).strip()


def normalise_name(value: Any) -> str:
    """Trim a person's name; one canonical middle dot; no stray spaces."""
    text = _SPACE_RUN.sub(" ", fold(str(value or ""))).strip()
    if _CJK.search(text):
        # Spaces inside a Chinese name are typing slips (王　丽) or padding
        # to align a column; a plain "." can only separate name parts here.
        text = _DOT_RUN.sub(_NAME_DOT, text).replace(" ", "")
    else:
        text = _OTHER_DOT_RUN.sub(_NAME_DOT, text)
    return text.strip(_NAME_DOT + " ")


def check_name(name: str) -> None:
    """Refuse a name that is empty, too long or holds digits."""
    if not name:
        raise ValueProblem("value_missing", _("This value is required."))
    if len(name) > 64:
        raise ValueProblem("value_too_long", _("At most 64 characters."))
    if any(ch.isdigit() for ch in name) or any(ch in "<>{}[]=@#$%^&|\\" for ch in name):
        raise ValueProblem(
            "name_invalid", _("A name holds no digits or symbols; check the column.")
        )


def parse_date(value: Any, *, date1904: bool = False) -> ParsedDate | None:
    """Read a date cell in any of the forms rosters use; None when blank."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return ParsedDate(value.date())
    if isinstance(value, datetime.date):
        return ParsedDate(value)
    if isinstance(value, bool):
        raise _invalid_date()
    if isinstance(value, int | float):
        return _from_number(value, date1904=date1904)
    text = unicodedata.normalize("NFKC", as_text(value))
    if not text:
        return None
    if _SERIAL.match(text):
        return ParsedDate(_from_serial(float(text), date1904=date1904))
    # Try as written first (a time of day follows a space), then without
    # the stray spaces people put around 年, 月 and the separators.
    for candidate in dict.fromkeys((text, text.replace(" ", ""))):
        for form in _DAY_FORMS:
            if match := form.match(candidate):
                return ParsedDate(_make_date(*match.groups()[:3]))
        for form in _MONTH_FORMS:
            if match := form.match(candidate):
                return ParsedDate(_make_date(*match.groups(), "1"), day_known=False)
    raise _invalid_date()


def _from_number(number: float, *, date1904: bool) -> ParsedDate:
    if float(number).is_integer():
        digits = str(int(number))
        if len(digits) == 8:
            return ParsedDate(_make_date(digits[:4], digits[4:6], digits[6:]))
        if len(digits) == 6:
            return ParsedDate(_make_date(digits[:4], digits[4:], "1"), day_known=False)
    return ParsedDate(_from_serial(float(number), date1904=date1904))


def _from_serial(serial: float, *, date1904: bool) -> datetime.date:
    # A date stored as Excel's day count. The 1900 system counts a
    # 29 February 1900 that never was (Lotus compatibility), so serials
    # before it are one day off the plain count and 60 itself is no date.
    if not serial.is_integer() or serial < 1 or serial > 99999:
        raise _invalid_date()
    # 1900 to 2100 is far likelier a year written alone than a day of 1905:
    # refuse it rather than guess either.
    if _FIRST_YEAR <= serial <= _LAST_YEAR:
        raise _invalid_date()
    days = int(serial)
    if date1904:
        return _EXCEL_1904 + datetime.timedelta(days=days)
    if days == 60:
        raise _invalid_date()
    if days < 60:
        days += 1
    return _EXCEL_1900 + datetime.timedelta(days=days)


def _make_date(year: str, month: str, day: str) -> datetime.date:
    try:
        parsed = datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise _invalid_date() from None
    if not _FIRST_YEAR <= parsed.year <= _LAST_YEAR:
        raise _invalid_date()
    return parsed


def _invalid_date() -> ValueProblem:
    return ValueProblem(
        "date_invalid",
        _("Not a date; write it as 2019-07-01, 2019.07.01 or 2019年7月1日."),
    )


def parse_gender(value: Any) -> str | None:
    """Return "male" or "female" for 男/女 and their variants."""
    text = as_text(value).lower()
    if not text:
        return None
    if text in _GENDERS:
        return _GENDERS[text]
    raise ValueProblem("gender_invalid", _("The gender is written as 男 or 女."))


def parse_status(value: Any) -> str | None:
    """Return "full" or "probationary" for 正式党员/预备党员."""
    text = as_text(value).replace(" ", "")
    if not text:
        return None
    if text in _STATUSES:
        return _STATUSES[text]
    raise ValueProblem(
        "status_invalid", _("The status is written as 正式党员 or 预备党员.")
    )


def parse_flag(value: Any) -> bool | None:
    """Return True or False for 是/否 (yes/no)."""
    text = as_text(value).lower()
    if not text:
        return None
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    raise ValueProblem("value_invalid", _("Write 是 or 否."))


def id_text(value: Any) -> str:
    """Return the text of an ID number cell, refusing what Excel damaged.

    A number cell cannot hold 18 digits: Excel keeps 15 significant digits
    and shows the rest as zeros or as scientific notation, so the original
    number is lost and must be typed again.
    """
    if isinstance(value, float) and not (value.is_integer() and value < 1e15):
        raise _scientific()
    if isinstance(value, int | float) and len(str(int(value))) > 15:
        raise _truncated()
    text = as_text(value).lstrip("'").replace(" ", "")
    text = unicodedata.normalize("NFKC", text).upper()
    if re.fullmatch(r"\d{16,17}", text):
        raise _truncated()
    if re.fullmatch(r"\d{15}000", text) and not _check_passes(text):
        raise _truncated()
    return text


def _check_passes(value: str) -> bool:
    return check_character(value[:17]) == value[17]


def _scientific() -> IdentityError:
    return IdentityError(
        "id_scientific_notation",
        _(
            "The ID number was turned into scientific notation by Excel; "
            "re-enter it as text."
        ),
    )


def _truncated() -> IdentityError:
    return IdentityError(
        "id_truncated",
        _(
            "The ID number lost its last digits (Excel keeps only 15); "
            "re-enter it as text."
        ),
    )


def phone_text(value: Any) -> str:
    """Return the text of a phone cell (numbers stay whole digits)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return as_text(value).lstrip("'")
