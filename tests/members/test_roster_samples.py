"""Every sample roster imports with the report its .expected.json describes."""

import datetime
import json
from pathlib import Path

import pytest

from members import roster
from members.models import Member
from tests import factories

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
EXPECTED = sorted(SAMPLES.glob("*.expected.json"))
# The samples were written on this day; their probationary members joined
# in 2026 and one deliberate fault is a joining date in 2031.
TODAY = datetime.date(2026, 12, 3)


def sample(path):
    expected = json.loads(path.read_text(encoding="utf-8"))
    return SAMPLES / path.name.removesuffix(".expected.json"), expected


def error_keys(report):
    return [(e.row, e.column, e.code) for e in report.errors]


def expected_error_keys(expected):
    return [(e["row"], e["column"], e["code"]) for e in expected["errors"]]


def member_fields(report, expected):
    keys = [list(m) for m in expected["members"]]
    got = [r.as_dict() for r in report.records]
    return [{k: g[k] for k in ks} for g, ks in zip(got, keys, strict=False)]


@pytest.fixture
def sample_branch(db):
    return factories.make_organization(code="SAMPLE", region="430104", name="样本支部")


def test_the_project_carries_its_own_copy_of_every_shared_sample():
    names = {p.name for p in SAMPLES.iterdir()}

    assert {
        "roster_clean.xlsx",
        "roster_damaged.xlsx",
        "roster_excel_gbk.csv",
        "roster_legacy.csv",
    } <= names
    assert all(f"{name}.expected.json" in names for name in names if "json" not in name)


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.name)
def test_a_sample_previews_with_the_expected_report(path, sample_branch):
    file, expected = sample(path)

    report = roster.preview(
        file=file, organization=sample_branch, actor=None, today=TODAY
    )

    assert report.header_row == expected["header_row"]
    assert error_keys(report) == expected_error_keys(expected)
    assert report.valid == expected["imported"]
    assert member_fields(report, expected) == expected["members"]
    assert Member.objects.count() == 0


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.name)
def test_a_sample_warns_only_where_its_expected_report_says(path, sample_branch):
    file, expected = sample(path)

    report = roster.preview(
        file=file, organization=sample_branch, actor=None, today=TODAY
    )

    assert [(w.row, w.column, w.code) for w in report.warnings] == [
        (w["row"], w["column"], w["code"]) for w in expected.get("warnings", [])
    ]


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.name)
def test_a_sample_commits_the_expected_members(path, sample_branch):
    file, expected = sample(path)

    report = roster.commit(
        file=file, organization=sample_branch, actor=None, today=TODAY
    )

    assert report.imported == expected["imported"]
    assert error_keys(report) == expected_error_keys(expected)
    assert sorted(Member.objects.values_list("id_number", flat=True)) == sorted(
        m["id_number"] for m in expected["members"]
    )


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.name)
def test_a_sample_commits_all_or_nothing_as_expected(path, sample_branch):
    file, expected = sample(path)

    report = roster.commit(
        file=file,
        organization=sample_branch,
        actor=None,
        all_or_nothing=True,
        today=TODAY,
    )

    wanted = expected.get("imported_all_or_nothing", expected["imported"])
    assert report.imported == wanted
    assert Member.objects.count() == wanted
