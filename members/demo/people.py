"""The demo roster: realistic people, one row after another, from a seed.

Row ``n`` of a seed is always the same person, and a longer roster starts
with the rows of a shorter one. ID numbers follow GB 11643 with real Hunan
county codes and never repeat, without remembering the numbers issued.
"""

import bisect
import datetime
import functools
import hashlib
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from faker import Faker

from members.demo.tree import (
    HR_CENTRE,
    HR_CITY,
    HR_CODE,
    INDUSTRIES,
    MOBILE_COUNTY,
    PROVINCE,
    SHENZHEN_DISTRICTS,
    OrgSpec,
    city_short_name,
    counties_under,
    placement,
    province_counties,
    region_full_name,
    region_name,
)
from members.identity import check_character
from members.models import Member
from members.services import eighteenth_birthday
from organizations.models import Organization


class _Weights:
    """Keys and their cumulative weights, for one random pick at a time."""

    def __init__(self, table: str):
        pairs = [item.split("=") for item in table.split()]
        self.keys = tuple(key for key, _weight in pairs)
        self.cumulative = tuple(itertools.accumulate(float(w) for _k, w in pairs))

    def pick(self, rng: random.Random) -> str:
        point = rng.random() * self.cumulative[-1]
        return self.keys[bisect.bisect(self.cumulative, point)]


# Demo log-in rows: the member, the secretary and the mobile member, all in
# the first branch so that the secretary sees both.
PINNED_ROWS = {0: "local", 1: "local", 2: "shenzhen"}

# Ages are fixed against one reference year so that a seed yields the same
# people whatever day it runs; only dates relative to "today" (probation,
# lost contact) follow the calendar.
_REFERENCE_YEAR = 2026
# Members by age band (born from, born to, members in ten thousands), from
# the Party's statistical bulletin for the end of 2023 (People's Daily,
# 2024-07-01); ages as of 2026. The 61-and-over band is split by decade with
# weights of our own (the bulletin gives no split).
_AGE_BANDS = (
    (1996, 2006, 1241.2),
    (1991, 1995, 1119.6),
    (1986, 1990, 1086.4),
    (1981, 1985, 945.9),
    (1976, 1980, 907.1),
    (1971, 1975, 940.5),
    (1966, 1970, 890.7),
    (1956, 1965, 2787.2 * 0.50),
    (1946, 1955, 2787.2 * 0.35),
    (1936, 1945, 2787.2 * 0.15),
)
_SLOTS_PER_UNIT = 124
_MAX_UNITS_PER_DAY = 4

# Occupations of members under 61 who are not students and not in a new
# employment form, weighted from the same bulletin (ten thousands): officials
# 764.5; professionals 1,619.0 split between public institutions and others;
# managers 1,145.3; workers 664.3; farmers 2,607.5 less those over 60;
# "other" 776.4 split across self-employed, NGOs, unemployed and other.
_WORKING = _Weights(
    "10=764.5 11=600 13=1019 12=1145.3 14=664.3 20=1937 30=300 15=80 60=150 90=246.4"
)
# No national figure splits the new employment forms; a rough split.
_NEW_EMPLOYMENT = _Weights("70=30 71=20 72=18 73=20 74=4 75=4 79=4")
# The ACFTU's tenth survey of the workforce (2023) counted about 84 million
# workers in new employment forms among about 402 million employees: 21 %.
# Members living away from home take such work more often, so the base
# share is lower and the share away higher, averaging about 20 %.
_NEW_EMPLOYMENT_SHARE = 0.19
_NEW_EMPLOYMENT_SHARE_AWAY = 0.35
_MIGRANT_OCCUPATIONS = frozenset({"14", "30", "60", *_NEW_EMPLOYMENT.keys})
# Members over 60: the bulletin's 20.6 million retirees are most of them;
# the rest are mainly farmers.
_OLDER = _Weights("50=74 20=24 90=2")
# Education by age, tuned so that about 56 % hold a college degree or
# higher, as in the bulletin.
_EDUCATION = {
    "young": _Weights("21=52 31=25 14=9 11=1 41=5 61=5 71=3"),
    "middle": _Weights("21=32 31=26 14=4 41=10 61=14 71=13 81=1"),
    "older": _Weights("21=10 31=12 41=14 61=26 71=28 81=10"),
    "student": _Weights("21=70 31=20 14=10"),
}
# Western Hunan is home to the Tujia, Miao and Dong; elsewhere almost
# everyone is Han.
_ETHNICITY = {
    "4331": _Weights("01=40 15=33 06=27"),
    "4308": _Weights("01=30 15=65 14=5"),
    "4312": _Weights("01=60 12=22 06=12 13=3 15=3"),
    "": _Weights("01=97 15=1 06=1 03=0.5 13=0.5"),
}
# Where Hunan's members who moved away live: mostly the Pearl River Delta.
_DESTINATIONS = _Weights(
    "440300=20 440100=10 441900=8 440600=5 330100=6 330200=4 310000=10 "
    "320500=6 110000=6 350200=4 420100=6 500000=3"
)
_MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 "
    "159 166 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 "
    "198 199"
).split()
_GIVEN_FIRST = {
    "male": "志建国文海俊德永明子浩家振宏",
    "female": "晓秀丽玉淑春雅思欣佳雨美红慧",
}
_AGENCIES = (
    "人民政府办公室 财政局 教育局 人力资源和社会保障局 农业农村局 "
    "市场监督管理局 卫生健康局 自然资源局"
).split()
_INSTITUTIONS = (
    "第一中学 人民医院 中医医院 实验小学 疾病预防控制中心 职业中专学校 图书馆"
).split()
_SOCIETIES = "志愿者协会 慈善总会 社会工作服务中心 青年创业协会".split()
_UNIVERSITIES = (
    "湖南大学 中南大学 湖南师范大学 湘潭大学 长沙理工大学 湖南农业大学 "
    "吉首大学 南华大学"
).split()
_SHOPS = "餐馆 超市 五金店 副食店 汽车修理店 理发店".split()
_PLATFORM_WORK = dict(
    item.split("=")
    for item in (
        "70=配送服务有限公司 71=快递服务有限公司 72=汽车服务有限公司 "
        "73=物流有限公司 74=文化传媒有限公司 75=家政服务有限公司 "
        "79=信息技术有限公司"
    ).split()
)


@dataclass(slots=True)
class MemberRow:
    """One generated member in plain values, ready for the ORM or COPY."""

    index: int
    organization_code: str
    name: str
    gender: str
    birth_date: datetime.date
    id_number: str
    phone: str
    ethnicity: str
    education: str
    occupation: str
    joined_on: datetime.date
    full_member_on: datetime.date | None
    status: str
    hukou_region: str
    hukou_address: str
    residence_region: str
    residence_address: str
    work_unit: str
    is_migrant_worker: bool
    file_custodian: str
    lost_contact_since: datetime.date | None
    period_start: datetime.date


@functools.cache
def _day_units() -> tuple[list[int], list[int]]:
    """Split birth days into units of 124 sequence slots, weighted by age.

    A day gets 0-4 units, so popular birth years hold more numbers; unit k of
    a day owns the slots k*124 .. k*124+123.
    """
    per_year = {
        year: members / (last - first + 1)
        for first, last, members in _AGE_BANDS
        for year in range(first, last + 1)
    }
    scale = _MAX_UNITS_PER_DAY / max(per_year.values())
    days: list[int] = []
    ks: list[int] = []
    total = 0.0
    first = datetime.date(min(per_year), 1, 1).toordinal()
    last = datetime.date(max(per_year), 12, 31).toordinal()
    for ordinal in range(first, last + 1):
        weight = per_year[datetime.date.fromordinal(ordinal).year] * scale
        units = round(total + weight) - round(total)
        total += weight
        days.extend([ordinal] * units)
        ks.extend(range(units))
    return days, ks


def _mix(value: int) -> int:
    # The splitmix64 finaliser: a cheap, well-spread integer hash.
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
    value = (value ^ (value >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
    return value ^ (value >> 31)


class _Permutation:
    """A keyed pseudo-random bijection of ``range(size)`` (Feistel network)."""

    def __init__(self, size: int, key: str):
        bits = max(2, (size - 1).bit_length())
        self.size = size
        self.half = (bits + 1) // 2
        self.mask = (1 << self.half) - 1
        digest = hashlib.blake2b(key.encode(), digest_size=32).digest()
        self.keys = [int.from_bytes(digest[i : i + 8], "big") for i in range(0, 32, 8)]

    def __call__(self, value: int) -> int:
        # Cycle-walking: a value that lands outside the range is permuted
        # again until it lands inside, which keeps the map a bijection.
        while True:
            left, right = value >> self.half, value & self.mask
            for key in self.keys:
                left, right = right, left ^ (_mix(right ^ key) & self.mask)
            value = (left << self.half) | right
            if value < self.size:
                return value


class _IdNumbers:
    """Hand out birth dates and sequence slots that never repeat.

    The n-th number of a county is a keyed permutation of n over all (birth
    day, slot) pairs, so numbers look random yet cannot collide, and nothing
    but one counter per county is remembered.
    """

    def __init__(self, seed: int):
        self._seed = seed
        self._issued: Counter[str] = Counter()
        self._permutations: dict[str, _Permutation] = {}

    def draw(self, county: str) -> tuple[datetime.date, int]:
        days, ks = _day_units()
        permutation = self._permutations.get(county)
        if permutation is None:
            permutation = _Permutation(
                len(days) * _SLOTS_PER_UNIT, f"liudong-demo:{self._seed}:{county}"
            )
            self._permutations[county] = permutation
        number = self._issued[county]
        if number >= permutation.size:
            raise ValueError(f"county {county} has no ID numbers left")
        self._issued[county] += 1
        unit, offset = divmod(permutation(number), _SLOTS_PER_UNIT)
        slot = ks[unit] * _SLOTS_PER_UNIT + offset
        return datetime.date.fromordinal(days[unit]), slot


@dataclass(frozen=True)
class _Pools:
    surnames: tuple[str, ...]
    given: dict[str, tuple[str, ...]]
    streets: tuple[str, ...]
    firms: tuple[str, ...]


@functools.lru_cache(maxsize=4)
def _pools(seed: int) -> _Pools:
    # Faker per row would dominate the run at millions of rows; its seeded
    # draws are taken once into pools that keep its name frequencies.
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    given = {
        "male": tuple(fake.first_name_male() for _ in range(2_000)),
        "female": tuple(fake.first_name_female() for _ in range(2_000)),
    }
    return _Pools(
        surnames=tuple(fake.last_name() for _ in range(5_000)),
        given=given,
        streets=tuple(fake.street_name() for _ in range(400)),
        firms=tuple(fake.company_prefix() for _ in range(400)),
    )


def _add_year(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return datetime.date(day.year + 1, 3, 1)


def _education_group(age: int, occupation: str) -> str:
    if occupation == "40":
        return "student"
    return "young" if age <= 35 else "middle" if age <= 60 else "older"


class _Generator:
    """Builds one member row after another from a seed."""

    _BLOCK = 1_000

    def __init__(self, seed: int, today: datetime.date):
        self.seed = seed
        self.today = today
        self.pools = _pools(seed)
        self.ids = _IdNumbers(seed)
        self.hunan = province_counties(PROVINCE)
        self.rng = random.Random()

    def row(self, index: int) -> MemberRow:
        if index % self._BLOCK == 0:
            # One generator per block of rows: cheap to seed, and a row's
            # values never depend on how the run is chunked.
            self.rng.seed(f"liudong-demo:{self.seed}:{index // self._BLOCK}")
        rng = self.rng
        branch = placement(index)
        pinned = PINNED_ROWS.get(index)

        county = self._id_county(rng, branch)
        birth_date, slot = self.ids.draw(county)
        age = _REFERENCE_YEAR - birth_date.year
        gender = "female" if rng.random() < (0.44 if age <= 35 else 0.25) else "male"
        # GB 11643: odd sequence numbers for men, even for women.
        sequence = 2 * slot + (1 if gender == "male" else 2)
        born = f"{birth_date.year}{birth_date.month:02d}{birth_date.day:02d}"
        first17 = f"{county}{born}{sequence:03d}"

        away, residence = self._residence(rng, branch, pinned)
        occupation = self._occupation(rng, age, away, pinned)
        status, joined_on, full_member_on = self._career(rng, birth_date, age, pinned)
        return MemberRow(
            index=index,
            organization_code=branch.code,
            name=self._name(rng, gender),
            gender=gender,
            birth_date=birth_date,
            id_number=first17 + check_character(first17),
            phone=rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            ethnicity=_ETHNICITY.get(county[:4], _ETHNICITY[""]).pick(rng),
            education=_EDUCATION[_education_group(age, occupation)].pick(rng),
            occupation=occupation,
            joined_on=joined_on,
            full_member_on=full_member_on,
            status=status,
            hukou_region=county,
            hukou_address=self._address(rng, county),
            residence_region=residence,
            residence_address=self._address(rng, residence),
            work_unit=self._work_unit(rng, occupation, residence),
            is_migrant_worker=(
                residence != county and occupation in _MIGRANT_OCCUPATIONS
            ),
            file_custodian=HR_CENTRE if branch.code.startswith(HR_CODE) else "",
            lost_contact_since=self._lost_contact(rng, away, pinned, joined_on),
            period_start=self._period_start(rng, branch, status, joined_on),
        )

    def _id_county(self, rng: random.Random, branch: OrgSpec) -> str:
        # Most members were born where their branch is; the HR centre in
        # Changsha holds files of people from all over the province.
        home = MOBILE_COUNTY if branch.region in SHENZHEN_DISTRICTS else branch.region
        if branch.code.startswith(HR_CODE) or rng.random() >= 0.7:
            return rng.choice(self.hunan)
        return home

    def _name(self, rng: random.Random, gender: str) -> str:
        given = rng.choice(self.pools.given[gender])
        # Faker's given names are mostly one character; most people have
        # two, often a common first character (志刚, 晓燕) before the second.
        if len(given) == 1 and rng.random() < 0.55:
            given = rng.choice(_GIVEN_FIRST[gender]) + given
        return rng.choice(self.pools.surnames) + given

    def _residence(
        self, rng: random.Random, branch: OrgSpec, pinned: str | None
    ) -> tuple[bool, str]:
        if pinned == "shenzhen":
            return True, SHENZHEN_DISTRICTS[0]
        if branch.kind == Organization.Kind.MOBILE_BRANCH:
            return True, branch.region
        share_away = 0.15 if branch.code.startswith(HR_CODE) else 0.07
        if pinned is None and rng.random() < share_away:
            return True, rng.choice(counties_under(_DESTINATIONS.pick(rng)))
        # Some have moved to the provincial capital, as the HR centre's have.
        if branch.region == HR_CITY or rng.random() < 0.15:
            return False, rng.choice(counties_under(HR_CITY))
        return False, branch.region

    def _occupation(
        self, rng: random.Random, age: int, away: bool, pinned: str | None
    ) -> str:
        if age > 60:
            return _OLDER.pick(rng)
        if pinned == "shenzhen":
            return "70"
        if age <= 24 and rng.random() < 0.45:
            return "40"
        share = _NEW_EMPLOYMENT_SHARE_AWAY if away else _NEW_EMPLOYMENT_SHARE
        if pinned is None and rng.random() < share:
            return _NEW_EMPLOYMENT.pick(rng)
        return _WORKING.pick(rng)

    def _career(
        self,
        rng: random.Random,
        birth_date: datetime.date,
        age: int,
        pinned: str | None,
    ) -> tuple[str, datetime.date, datetime.date | None]:
        adult = eighteenth_birthday(birth_date)
        last_full_join = self.today - datetime.timedelta(days=366)
        # About 3 % probationary: four in five new members are 35 or under.
        if (pinned is None and age <= 35 and rng.random() < 0.125) or (
            adult > last_full_join
        ):
            days_ago = rng.randrange(1, 365)
            joined = max(adult, self.today - datetime.timedelta(days=days_ago))
            return Member.Status.PROBATIONARY, joined, None
        years = rng.triangular(0, 30, 3)
        joined = adult + datetime.timedelta(days=int(years * 365.25))
        if joined > last_full_join:
            span = (last_full_join - adult).days
            joined = adult + datetime.timedelta(days=rng.randrange(span + 1))
        return Member.Status.FULL, joined, _add_year(joined)

    def _address(self, rng: random.Random, region: str) -> str:
        street = rng.choice(self.pools.streets)
        return f"{region_full_name(region)}{street}{rng.randint(1, 399)}号"

    def _work_unit(self, rng: random.Random, occupation: str, region: str) -> str:
        place = region_name(region)
        firm = city_short_name(region) + rng.choice(self.pools.firms)
        if occupation in _PLATFORM_WORK:
            return firm + _PLATFORM_WORK[occupation]
        if occupation in {"12", "13", "14"}:
            return f"{firm}{rng.choice(INDUSTRIES)}有限公司"
        if occupation == "30":
            return f"{place}{rng.choice(self.pools.surnames)}记{rng.choice(_SHOPS)}"
        pool = {"10": _AGENCIES, "11": _INSTITUTIONS, "15": _SOCIETIES}.get(occupation)
        if pool:
            return place + rng.choice(pool)
        return rng.choice(_UNIVERSITIES) if occupation == "40" else ""

    def _lost_contact(
        self,
        rng: random.Random,
        away: bool,
        pinned: str | None,
        joined_on: datetime.date,
    ) -> datetime.date | None:
        if not away or pinned or rng.random() >= 0.04:
            return None
        since = self.today - datetime.timedelta(days=rng.randrange(90, 900))
        return max(since, joined_on)

    def _period_start(
        self,
        rng: random.Random,
        branch: OrgSpec,
        status: str,
        joined_on: datetime.date,
    ) -> datetime.date:
        start = joined_on
        latest = self.today - datetime.timedelta(days=30)
        # About half joined elsewhere and were transferred in later.
        if status == Member.Status.FULL and rng.random() >= 0.55 and latest > joined_on:
            start += datetime.timedelta(days=rng.randrange((latest - joined_on).days))
        return min(max(start, branch.founded_on or start), self.today)


def generate_members(
    *, seed: int, count: int, today: datetime.date
) -> Iterator[MemberRow]:
    """Yield the first ``count`` rows of the demo roster for ``seed``.

    A longer roster starts with the same rows as a shorter one, which is what
    lets a larger run complete a smaller one.
    """
    generator = _Generator(seed, today)
    for index in range(count):
        yield generator.row(index)
