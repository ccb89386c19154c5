"""Resident ID numbers (GB 11643), phones, and the one way they are masked.

Each failure carries a stable ``code`` so that forms, the roster import and
the API report the same reason in the same words.
"""

import csv
import datetime
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext_lazy as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$", re.IGNORECASE)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Area code (3 or 4 digits starting with 0), then a 7 or 8 digit number and
# an optional extension.
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
_REGIONS_CSV = Path(__file__).resolve().parent.parent / "organizations/data/regions.csv"


class IdentityError(ValueError):
    """A value that is not a valid ID number or phone; ``code`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IdNumber:
    """A checked 18-character resident ID number and what it encodes."""

    value: str
    birth_date: datetime.date
    gender: str  # "male" or "female", the values of Member.Gender


@functools.cache
def province_prefixes() -> frozenset[str]:
    with _REGIONS_CSV.open(encoding="utf-8") as fh:
        return frozenset(row["code"][:2] for row in csv.DictReader(fh))


def normalise_text(raw: str) -> str:
    """Fold full-width characters to ASCII and trim stray spaces."""
    folded = unicodedata.normalize("NFKC", raw)
    return folded.replace("\u3000", " ").strip()


def check_character(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def convert_legacy(fifteen: str) -> str:
    """Turn a 15-digit number into its 18-character form."""
    first17 = fifteen[:6] + "19" + fifteen[6:]
    return first17 + check_character(first17)


def parse_id_number(raw: str) -> IdNumber:
    """Normalise and check an ID number, raising IdentityError on any fault."""
    value = normalise_text(str(raw)).replace(" ", "").upper()

    if _SCIENTIFIC.match(value):
        raise IdentityError(
            "id_scientific_notation",
            _(
                "The ID number was turned into scientific notation by Excel; "
                "re-enter it as text."
            ),
        )
    if re.fullmatch(r"\d{15}", value):
        value = convert_legacy(value)
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise IdentityError(
            "id_format",
            _("An ID number has 18 characters: 17 digits, then a digit or X."),
        )

    if value[:2] not in province_prefixes():
        raise IdentityError("id_province", _("The ID number's province is unknown."))
    try:
        birth = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise IdentityError(
            "id_birth_date", _("The ID number holds no valid birth date.")
        ) from None
    if value[17] != check_character(value[:17]):
        raise IdentityError(
            "id_checksum", _("The ID number's check character is wrong.")
        )

    gender = "male" if int(value[16]) % 2 else "female"
    return IdNumber(value=value, birth_date=birth, gender=gender)


def check_consistency(
    id_number: IdNumber, *, birth_date: datetime.date | None, gender: str | None
) -> None:
    """Refuse a record whose birth date or gender contradicts its ID number."""
    if birth_date is not None and birth_date != id_number.birth_date:
        raise IdentityError(
            "id_birth_mismatch", _("The birth date does not match the ID number.")
        )
    if gender and gender != id_number.gender:
        raise IdentityError(
            "id_gender_mismatch", _("The gender does not match the ID number.")
        )


def parse_phone(raw: str) -> str:
    """Normalise a mainland mobile or landline number, or raise."""
    value = normalise_text(str(raw)).replace(" ", "")
    if value.startswith("+86"):
        value = value[3:]
    digits_only = value.replace("-", "")
    if _MOBILE.match(digits_only):
        return digits_only
    if _LANDLINE.match(value):
        return value
    raise IdentityError(
        "phone_invalid", _("Not a mainland mobile (11 digits) or landline number.")
    )


def mask(value: str | None) -> str:
    """Hide all but the first 3 and last 4 characters.

    The one mask of DESIGN.md for ID numbers (``110***********1234``) and
    phones (``138****8000``) alike.
    """
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
