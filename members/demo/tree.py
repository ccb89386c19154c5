"""The demo province's organisations: committees, towns and branches.

Every organisation has a fixed code (``DEMO-...``) and a name derived from
its position alone, so any run, with any seed, builds the same tree, and a
larger run extends the tree of a smaller one.
"""

import bisect
import csv
import datetime
import functools
import itertools
import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from faker.providers.company.zh_CN import Provider as CompanyProvider

from organizations.models import Organization

logger = logging.getLogger(__name__)

PROVINCE = "430000"
ROOT_CODE = "DEMO-430000"
CODE_PREFIX = "DEMO-"
# City -> its demo counties; the first county holds the demo log-ins' branch.
CITIES = {
    "430100": ("430181", "430104", "430121"),
    "430400": ("430421", "430481", "430424"),
    "430500": ("430582", "430524", "430528"),
    "430600": ("430626", "430602", "430681"),
    "433100": ("433101", "433123", "433127"),
}
# Interleaved by city, so that even a small demo has branches in every city.
COUNTIES = tuple(itertools.chain.from_iterable(zip(*CITIES.values(), strict=True)))
HR_CITY = "430100"
HR_CODE = f"DEMO-HR-{HR_CITY}"
HR_CENTRE = "长沙市人才服务中心"
MOBILE_COUNTY = "430181"
SHENZHEN_DISTRICTS = ("440309", "440306", "440307")

# Which rows of every hundred belong to the HR service centre (5 %) and to
# the mobile-member branches in Shenzhen (3 %); the rest go to ordinary
# branches. Rows 0-2 are ordinary: they become the demo log-ins.
_HR_SLOTS = frozenset({17, 37, 57, 77, 97})
_MOBILE_SLOTS = frozenset({11, 44, 78})
_HR_BRANCH_SIZE = 80
_MOBILE_BRANCH_SIZE = 40
_BRANCHES_PER_TOWN = 10
_HR_FOUNDED = datetime.date(2003, 6, 1)
_MOBILE_FOUNDED = datetime.date(2018, 5, 1)
_REGIONS_CSV = Path(__file__).resolve().parents[2] / "organizations/data/regions.csv"
_PLACE_FIRST = "青白石龙金枫新花桃杨柳黄马东西南大高长安永太双梅"
_PLACE_SECOND = "山沙门潭桥林塘园源坪湾溪岭冲坝洲田湖江口坡铺岗水"
INDUSTRIES = "机械 食品 花炮 建材 电子 物流 农业开发 服装".split()


# --- regions -------------------------------------------------------------


@functools.cache
def _regions() -> dict[str, tuple[str, str, int]]:
    """Map each region code to its name, parent code and level."""
    with _REGIONS_CSV.open(encoding="utf-8", newline="") as fh:
        return {
            r["code"]: (r["name"], r["parent_code"], int(r["level"]))
            for r in csv.DictReader(fh)
        }


def region_name(code: str) -> str:
    return _regions()[code][0]


@functools.cache
def region_full_name(code: str) -> str:
    """Return a region's name preceded by its province and city."""
    name, parent, _level = _regions()[code]
    return (region_full_name(parent) if parent else "") + name


@functools.cache
def city_short_name(code: str) -> str:
    """Return the city a county belongs to, without 市 (长沙, 东莞, 上海)."""
    name, parent, level = _regions()[code]
    if level == 3:
        name, _parent, _level = _regions()[parent]
    return name.removesuffix("市")


@functools.cache
def counties_under(code: str) -> tuple[str, ...]:
    # A prefecture without counties (Dongguan) stands for itself.
    return tuple(
        c
        for c, (_n, parent, level) in _regions().items()
        if parent == code and level == 3
    ) or (code,)


@functools.cache
def province_counties(province: str) -> tuple[str, ...]:
    return tuple(
        c
        for c, (_n, _p, level) in _regions().items()
        if c[:2] == province[:2] and level == 3
    )


def city_of(county: str) -> str:
    return next(city for city, counties in CITIES.items() if county in counties)


def _is_urban_district(county: str) -> bool:
    # In GB/T 2260, county-level codes 01-20 are city districts.
    return int(county[4:]) <= 20


# --- organisations -------------------------------------------------------


@dataclass(frozen=True)
class OrgSpec:
    """An organisation to create under the one with ``parent_code``."""

    parent_code: str
    code: str
    name: str
    kind: str
    region: str
    founded_on: datetime.date | None = None


def _place_name(n: int) -> str:
    # A bijection of 0..575 onto two-character place names.
    first = n % len(_PLACE_FIRST)
    second = (n // len(_PLACE_FIRST) + 5 * first) % len(_PLACE_SECOND)
    return _PLACE_FIRST[first] + _PLACE_SECOND[second]


def _town_name(county: str, town: int) -> str:
    # Shifted per county so that neighbouring counties' towns differ.
    place = _place_name((town + 37 * COUNTIES.index(county)) % 576)
    if _is_urban_district(county):
        return place + "街道"
    return place + ("乡" if town % 5 == 4 else "镇")


def _town(county: str, town: int) -> OrgSpec:
    urban = _is_urban_district(county)
    committee = "工作委员会" if urban else "委员会"
    return OrgSpec(
        parent_code=CODE_PREFIX + county,
        code=f"{CODE_PREFIX}{county}-{town:04d}",
        name=f"中共{region_name(county)}{_town_name(county, town)}{committee}",
        kind=(
            Organization.Kind.WORKING_COMMITTEE
            if urban
            else Organization.Kind.COMMITTEE
        ),
        region=county,
    )


def _locate(number: int) -> tuple[str, int, str]:
    """Place the n-th ordinary branch: county, number there, and shape."""
    county = COUNTIES[number % len(COUNTIES)]
    local = number // len(COUNTIES)
    position = local % _BRANCHES_PER_TOWN
    # Of ten branches in a town: villages (communities in a city district),
    # then firms, then one joint branch of small private firms.
    villages = 3 if _is_urban_district(county) else 7
    shape = "village" if position < villages else "firm" if position < 9 else "joint"
    return county, local, shape


@functools.lru_cache(maxsize=4_096)
def regular_branch(number: int) -> OrgSpec:
    """Describe the ``number``-th ordinary branch (village, street, firm)."""
    county, local, shape = _locate(number)
    town_number, position = divmod(local, _BRANCHES_PER_TOWN)
    town = _town_name(county, town_number)
    kind = Organization.Kind.BRANCH
    if shape == "village":
        place = _place_name((local * 7 + 101 + 53 * COUNTIES.index(county)) % 576)
        suffix = "社区" if _is_urban_district(county) else "村"
        name = f"{town}{place}{suffix}党支部"
    elif shape == "firm":
        prefixes = CompanyProvider.company_prefixes
        firm = prefixes[(local * 13) % len(prefixes)]
        industry = INDUSTRIES[local % len(INDUSTRIES)]
        name = f"{region_name(county)}{firm}{industry}有限公司党支部"
    else:
        kind = Organization.Kind.JOINT_BRANCH
        name = f"{town}非公有制企业联合党支部"
    parent = _town(county, town_number).code
    return OrgSpec(
        parent_code=parent,
        code=f"{parent}-{position}",
        name=name,
        kind=kind,
        region=county,
    )


@functools.lru_cache(maxsize=256)
def hr_branch(number: int) -> OrgSpec:
    return OrgSpec(
        parent_code=HR_CODE,
        code=f"{HR_CODE}-{number:04d}",
        name=f"{HR_CENTRE}第{number + 1}党支部",
        kind=Organization.Kind.BRANCH,
        region=HR_CITY,
        founded_on=_HR_FOUNDED,
    )


@functools.lru_cache(maxsize=256)
def mobile_branch(number: int) -> OrgSpec:
    district = SHENZHEN_DISTRICTS[number % len(SHENZHEN_DISTRICTS)]
    ordinal = number // len(SHENZHEN_DISTRICTS) + 1
    county = region_name(MOBILE_COUNTY)
    return OrgSpec(
        parent_code=CODE_PREFIX + MOBILE_COUNTY,
        code=f"DEMO-MB-{MOBILE_COUNTY}-{number:04d}",
        name=f"{county}驻深圳{region_name(district)}流动党员第{ordinal}党支部",
        kind=Organization.Kind.MOBILE_BRANCH,
        region=district,
        founded_on=_MOBILE_FOUNDED,
    )


def _skeleton() -> list[OrgSpec]:
    """The fixed committees: province, cities, counties, HR service centre."""
    committee = Organization.Kind.COMMITTEE
    specs = []
    for city, counties in CITIES.items():
        for parent, code in [(PROVINCE, city)] + [(city, c) for c in counties]:
            name = f"中共{region_name(code)}委员会"
            specs.append(
                OrgSpec(CODE_PREFIX + parent, CODE_PREFIX + code, name, committee, code)
            )
    name = f"中共{HR_CENTRE}委员会"
    specs.append(
        OrgSpec(CODE_PREFIX + HR_CITY, HR_CODE, name, committee, HR_CITY, _HR_FOUNDED)
    )
    return specs


class _BranchSizes:
    """How many members each ordinary branch gets, fixed for every seed."""

    def __init__(self):
        self._rng = random.Random("liudong-demo-branch-sizes")
        self._ends: list[int] = []

    def branch_of(self, regular_number: int) -> int:
        while not self._ends or self._ends[-1] <= regular_number:
            self._ends.append((self._ends[-1] if self._ends else 0) + self._size())
        return bisect.bisect_right(self._ends, regular_number)

    def _size(self) -> int:
        low, high = {"village": (12, 45), "firm": (5, 25), "joint": (5, 15)}[
            _locate(len(self._ends))[2]
        ]
        return self._rng.randint(low, high)


_branch_sizes = _BranchSizes()


def _slot_table() -> list[tuple[str, int]]:
    seen: Counter[str] = Counter()
    table = []
    for slot in range(100):
        category = "regular"
        if slot in _HR_SLOTS:
            category = "hr"
        elif slot in _MOBILE_SLOTS:
            category = "mobile"
        table.append((category, seen[category]))
        seen[category] += 1
    return table


_SLOTS = _slot_table()
_PER_HUNDRED = Counter(category for category, _rank in _SLOTS)


def _category_of(index: int) -> tuple[str, int]:
    """Return a row's category and its number within that category."""
    hundred, slot = divmod(index, 100)
    category, rank = _SLOTS[slot]
    return category, hundred * _PER_HUNDRED[category] + rank


def placement(index: int) -> OrgSpec:
    """Return the branch that holds the membership of row ``index``."""
    category, number = _category_of(index)
    if category == "hr":
        return hr_branch(number // _HR_BRANCH_SIZE)
    if category == "mobile":
        return mobile_branch(number // _MOBILE_BRANCH_SIZE)
    return regular_branch(_branch_sizes.branch_of(number))


def organization_specs(members: int) -> list[OrgSpec]:
    """Every organisation that ``members`` rows need, parents first."""
    # The last row of each category decides how many branches it needs;
    # every category has at least one branch, so the tree is always whole.
    last = {"regular": 0, "hr": 0, "mobile": 0}
    for index in range(max(0, members - 100), members):
        category, number = _category_of(index)
        last[category] = number
    regular = _branch_sizes.branch_of(last["regular"]) + 1
    branches = [regular_branch(n) for n in range(regular)]
    towns = {spec.parent_code: spec.region for spec in branches}
    return [
        *_skeleton(),
        *(_town(county, int(code[-4:])) for code, county in towns.items()),
        *branches,
        *(hr_branch(n) for n in range(last["hr"] // _HR_BRANCH_SIZE + 1)),
        *(mobile_branch(n) for n in range(last["mobile"] // _MOBILE_BRANCH_SIZE + 1)),
    ]


def _demo_organizations() -> dict[str, Organization]:
    return {
        org.code: org
        for org in Organization.objects.filter(code__startswith=CODE_PREFIX).only(
            "id", "code", "path", "depth", "numchild"
        )
    }


def _next_step(parent: Organization) -> int:
    if parent.numchild == 0:
        return 1
    last = (
        Organization.objects.filter(
            path__startswith=parent.path, depth=parent.depth + 1
        )
        .order_by("-path")
        .values_list("path", flat=True)
        .first()
    )
    return Organization._str2int(last[-Organization.steplen :]) + 1 if last else 1


def _append_children(known: dict[str, Organization], specs: list[OrgSpec]) -> int:
    # treebeard's add_child costs several queries a node; tens of thousands
    # of branches are built here with paths computed in bulk instead.
    new: list[Organization] = []
    steps: dict[str, int] = {}
    for spec in specs:
        parent = known[spec.parent_code]
        step = steps.get(spec.parent_code) or _next_step(parent)
        steps[spec.parent_code] = step + 1
        parent.numchild += 1
        new.append(
            Organization(
                path=Organization._get_path(parent.path, parent.depth + 1, step),
                depth=parent.depth + 1,
                numchild=0,
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                region_id=spec.region,
                founded_on=spec.founded_on,
            )
        )
    Organization.objects.bulk_create(new, batch_size=5_000)
    parents = [known[code] for code in steps]
    Organization.objects.bulk_update(parents, ["numchild"], batch_size=5_000)
    known.update({org.code: org for org in new})
    return len(new)


@transaction.atomic
def ensure_organizations(members: int) -> dict[str, int]:
    """Create the organisations ``members`` rows need; return ids by code."""
    known = _demo_organizations()
    if ROOT_CODE not in known:
        known[ROOT_CODE] = Organization.objects.add_root(
            dict(
                code=ROOT_CODE,
                name=f"中共{region_name(PROVINCE)}委员会",
                kind=Organization.Kind.COMMITTEE,
                region_id=PROVINCE,
            )
        )
    missing = [s for s in organization_specs(members) if s.code not in known]
    created = 0
    # Parents come before children in the list; each pass appends the
    # children whose parent already exists.
    while missing:
        ready = [s for s in missing if s.parent_code in known]
        if not ready:
            raise RuntimeError("demo organisations without a parent")
        created += _append_children(known, ready)
        missing = [s for s in missing if s.code not in known]
    logger.info("demo organisations created=%d total=%d", created, len(known))
    return {code: org.pk for code, org in known.items()}
