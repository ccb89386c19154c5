"""Resolve address text (户籍地, 现居住地) to a county-level region code.

An address is read from the left: an optional province, an optional
prefecture, then a county, each matched by its official name (province and
prefecture also by their short names: 广西, 延边), and anything after the
county (street, building) is ignored. Every reading that reaches a county
is collected; the readings that consume the most text win. One code among
them resolves the address; several (朝阳区 alone is in Beijing and in
Changchun) make it ambiguous; none leaves it unresolved. Nothing is guessed.
"""

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from organizations.models import Region

RESOLVED, AMBIGUOUS, UNRESOLVED, UNKNOWN_CODE = (
    "resolved",
    "ambiguous",
    "unresolved",
    "unknown_code",
)

_ETHNIC_QUALIFIERS = re.compile(
    "(?:壮族|回族|维吾尔|蒙古族|蒙古|藏族|朝鲜族|哈萨克|柯尔克孜|土家族|苗族|"
    "布依族|侗族|彝族|傣族|景颇族|白族|傈僳族|哈尼族|羌族|土族|黎族)+$"
)
_PREFIX_NOISE = ("中华人民共和国", "中国")
_MEMO_SIZE = 50_000


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    level: int
    parent: str | None


@dataclass(frozen=True)
class Resolution:
    """The outcome of reading one address."""

    status: str
    code: str | None = None
    candidates: tuple[str, ...] = ()


class RegionIndex:
    """Region names arranged for matching at the start of a text."""

    def __init__(self, places: Iterable[Place]):
        self.places = {place.code: place for place in places}
        self._memo: dict[str, Resolution] = {}
        self.with_children = {p.parent for p in self.places.values() if p.parent}
        self.provinces = _NameTable()
        self.prefectures = _NameTable()
        self.counties = _NameTable()
        for place in self.places.values():
            if place.level == Region.Level.PROVINCE:
                self.provinces.add(place, place.name, _short_province(place.name))
            elif place.level == Region.Level.PREFECTURE:
                self.prefectures.add(place, place.name, _short_prefecture(place.name))
            else:
                self.counties.add(place, place.name)

    @classmethod
    def load(cls) -> "RegionIndex":
        return cls(
            Place(code, name, level, parent)
            for code, name, level, parent in Region.objects.values_list(
                "code", "name", "level", "parent_id"
            )
        )

    def resolve(self, text: str) -> Resolution:
        """Read ``text`` as an address and return the county it names."""
        # Rosters repeat the same few addresses; a small memo per import
        # keeps 100,000 rows from reading each one again.
        if (known := self._memo.get(text)) is not None:
            return known
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[text] = resolution = self._resolve(text)
        return resolution

    def _resolve(self, text: str) -> Resolution:
        compact = _compact(text)
        if re.fullmatch(r"\d{6}", compact):
            if compact in self.places:
                return Resolution(RESOLVED, compact, (compact,))
            return Resolution(UNKNOWN_CODE)

        readings = set(self._readings(compact))
        if not readings:
            return Resolution(UNRESOLVED)
        longest = max(consumed for consumed, _code in readings)
        codes = tuple(
            sorted({code for consumed, code in readings if consumed == longest})
        )
        if len(codes) == 1:
            return Resolution(RESOLVED, codes[0], codes)
        return Resolution(AMBIGUOUS, None, codes)

    def _readings(self, text: str) -> Iterator[tuple[int, str]]:
        provinces = [(None, 0), *self.provinces.at(text, 0)]
        for province, after_province in provinces:
            prefectures = [
                (None, after_province),
                *(
                    (p, end)
                    for p, end in self.prefectures.at(text, after_province)
                    if province is None or p.code[:2] == province.code[:2]
                ),
            ]
            for prefecture, after_prefecture in prefectures:
                found = False
                for county, end in self.counties.at(text, after_prefecture):
                    if _within(county, prefecture or province):
                        found = True
                        yield end, county.code
                # A prefecture with no counties (东莞, 中山, 儋州, 嘉峪关)
                # is itself the county-level unit.
                if (
                    not found
                    and prefecture is not None
                    and prefecture.code not in self.with_children
                ):
                    yield after_prefecture, prefecture.code


class _NameTable:
    def __init__(self):
        self.by_name: dict[str, list[Place]] = defaultdict(list)
        self.lengths: set[int] = set()

    def add(self, place: Place, *names: str) -> None:
        for name in dict.fromkeys(names):
            if len(name) >= 2:
                self.by_name[name].append(place)
                self.lengths.add(len(name))

    def at(self, text: str, start: int) -> Iterator[tuple[Place, int]]:
        for length in self.lengths:
            for place in self.by_name.get(text[start : start + length], ()):
                yield place, start + length


def _within(county: Place, parent: Place | None) -> bool:
    if parent is None:
        return True
    if parent.level == Region.Level.PROVINCE:
        return county.code[:2] == parent.code[:2]
    return county.parent == parent.code


def _compact(text: str) -> str:
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    for noise in _PREFIX_NOISE:
        compact = compact.removeprefix(noise)
    return compact


def _short_province(name: str) -> str:
    return _shorten(name, ("特别行政区", "自治区", "省", "市"))


def _short_prefecture(name: str) -> str:
    return _shorten(name, ("自治州", "地区", "盟", "市"))


def _shorten(name: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix):
            stem = name.removesuffix(suffix)
            short = _ETHNIC_QUALIFIERS.sub("", stem)
            # 内蒙古自治区 is 内蒙古, not 内: a one-character stem is no name.
            return short if len(short) >= 2 else stem
    return name
