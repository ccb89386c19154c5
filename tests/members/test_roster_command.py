"""The import_roster management command and its JSON report."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from members.models import AuditEvent, Member
from tests import factories

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def branch(db):
    return factories.make_organization(code="CMD-1", region="430104")


def run(*args, report_path=None):
    extra = ["--report", str(report_path)] if report_path else []
    call_command("import_roster", *map(str, args), *extra)
    return json.loads(report_path.read_text(encoding="utf-8")) if report_path else None


def test_a_dry_run_reports_every_valid_member_and_writes_nothing(branch, tmp_path):
    report = run(
        SAMPLES / "roster_legacy.csv",
        "--organization",
        "CMD-1",
        "--dry-run",
        report_path=tmp_path / "r.json",
    )

    assert (report["imported"], report["valid"], report["dry_run"]) == (0, 12, True)
    assert report["header_row"] == 1
    assert report["errors"] == []
    assert len(report["members"]) == 12
    assert {
        k: report["members"][0][k] for k in ("row", "id_number", "id_as_given")
    } == {
        "row": 2,
        "id_number": "361027197407202494",
        "id_as_given": "361027740720249",
    }
    assert Member.objects.count() == 0


def test_a_real_run_writes_the_members_and_reports_the_errors(branch, tmp_path):
    report = run(
        SAMPLES / "roster_damaged.xlsx",
        "--organization",
        "CMD-1",
        report_path=tmp_path / "r.json",
    )

    assert (report["imported"], report["valid"], report["committed"]) == (11, 11, True)
    assert report["errors"][0] == {
        "row": 9,
        "column": "身份证号码",
        "code": "id_scientific_notation",
        "value": "5.306261961111957e+17",
        "message": (
            "The ID number was turned into scientific notation by Excel; "
            "re-enter it as text."
        ),
    }
    assert Member.objects.count() == 11
    assert AuditEvent.objects.get(action="roster.import").actor is None


def test_all_or_nothing_with_a_failing_row_exits_non_zero_and_writes_nothing(
    branch, tmp_path
):
    path = tmp_path / "r.json"

    with pytest.raises(CommandError):
        run(
            SAMPLES / "roster_damaged.xlsx",
            "--organization",
            "CMD-1",
            "--all-or-nothing",
            report_path=path,
        )

    report = json.loads(path.read_text(encoding="utf-8"))
    assert (report["imported"], report["refused"], len(report["errors"])) == (
        0,
        True,
        11,
    )
    assert Member.objects.count() == 0


def test_a_refused_file_exits_non_zero_with_its_code_in_the_report(branch, tmp_path):
    garbage = tmp_path / "roster.csv"
    garbage.write_bytes("Café résumé naïve".encode("latin-1") * 10)
    path = tmp_path / "r.json"

    with pytest.raises(CommandError, match="file_encoding"):
        run(garbage, "--organization", "CMD-1", report_path=path)

    report = json.loads(path.read_text(encoding="utf-8"))
    assert (report["refused"], report["errors"][0]["code"]) == (True, "file_encoding")


def test_an_unknown_organisation_code_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match="NOPE"):
        run(SAMPLES / "roster_legacy.csv", "--organization", "NOPE")


def test_running_the_same_file_twice_changes_nothing(branch, tmp_path):
    run(SAMPLES / "roster_excel_gbk.csv", "--organization", "CMD-1")

    report = run(
        SAMPLES / "roster_excel_gbk.csv",
        "--organization",
        "CMD-1",
        report_path=tmp_path / "again.json",
    )

    assert (report["imported"], report["errors"]) == (0, [])
    assert report["unchanged"] == list(range(2, 17))
    assert Member.objects.count() == 15
