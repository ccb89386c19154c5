"""Checking roster rows, duplicates, the two steps, atomicity and scope."""

import datetime
import io

import pytest

from members import roster
from members.models import AuditEvent, Member, MembershipPeriod
from members.roster import importer
from organizations.scope import OutOfScope, ReadOnlyScope
from tests import factories

BIRTH = datetime.date(1990, 5, 4)
COLUMNS = (
    "姓名",
    "身份证号码",
    "性别",
    "出生日期",
    "入党时间",
    "转正时间",
    "党籍状态",
    "手机号码",
    "户籍地",
    "现居住地",
    "民族",
    "学历",
    "职业",
)


def person(**overrides):
    values = {
        "姓名": "赵六",
        "身份证号码": factories.make_id_number(
            region="430104", birth_date=BIRTH, gender="female"
        ),
        "性别": "女",
        "出生日期": "1990-05-04",
        "入党时间": "2015-07-01",
        "转正时间": "2016-07-01",
        "党籍状态": "正式党员",
        "手机号码": "13900001111",
        "户籍地": "湖南省长沙市岳麓区",
        "现居住地": "广东省深圳市南山区某某街道",
        "民族": "汉族",
        "学历": "大学本科",
        "职业": "外卖骑手",
    }
    values.update(overrides)
    return values


def csv_file(*people, columns=COLUMNS):
    lines = [",".join(columns)]
    lines += [",".join(p.get(c, "") for c in columns) for p in people]
    return io.BytesIO(("\r\n".join(lines) + "\r\n").encode("utf-8"))


def issues(report, kind="errors"):
    return [(i.row, i.column, i.code) for i in getattr(report, kind)]


@pytest.fixture
def branch(branch_a):
    return branch_a


def check(branch, *people, **kw):
    return roster.preview(file=csv_file(*people, **kw), organization=branch, actor=None)


def test_a_valid_row_becomes_a_record_with_every_field(branch):
    row = person()

    report = check(branch, row)

    assert report.errors == report.warnings == []
    assert report.records[0].as_dict() == {
        "row": 2,
        "name": "赵六",
        "id_number": row["身份证号码"],
        "id_as_given": row["身份证号码"],
        "gender": "女",
        "birth_date": "1990-05-04",
        "joined_on": "2015-07-01",
        "full_member_on": "2016-07-01",
        "status": "full",
        "ethnicity_code": "01",
        "education_code": "20",
        "occupation_code": "70",
        "phone": "13900001111",
        "work_unit": "",
        "file_custodian": "",
        "is_migrant_worker": False,
        "hukou_region_code": "430104",
        "hukou_address": "湖南省长沙市岳麓区",
        "residence_region_code": "440305",
        "residence_address": "广东省深圳市南山区某某街道",
        "organization_code": "B-A",
    }


@pytest.mark.parametrize(
    ("overrides", "column", "code"),
    [
        ({"身份证号码": "4.30104E+17"}, "身份证号码", "id_scientific_notation"),
        ({"身份证号码": "430104199005041000"}, "身份证号码", "id_truncated"),
        ({"身份证号码": "43010419900504"}, "身份证号码", "id_format"),
        ({"身份证号码": "990104199005040027"}, "身份证号码", "id_province"),
        ({"身份证号码": "430104199013040020"}, "身份证号码", "id_birth_date"),
        ({"身份证号码": "430104199005040021"}, "身份证号码", "id_checksum"),
        ({"身份证号码": ""}, "身份证号码", "value_missing"),
        ({"出生日期": "1990-05-05"}, "出生日期", "id_birth_mismatch"),
        ({"出生日期": "1990.06"}, "出生日期", "id_birth_mismatch"),
        ({"性别": "男"}, "性别", "id_gender_mismatch"),
        ({"性别": "未知"}, "性别", "gender_invalid"),
        ({"入党时间": "2008-05-03"}, "入党时间", "joined_before_18"),
        ({"入党时间": "2099-01-01", "转正时间": ""}, "入党时间", "date_in_future"),
        ({"转正时间": "2099-01-01"}, "转正时间", "date_in_future"),
        ({"转正时间": "2015-06-30"}, "转正时间", "full_before_joined"),
        ({"入党时间": "2015-02-30"}, "入党时间", "date_invalid"),
        ({"入党时间": "7/1/2015"}, "入党时间", "date_invalid"),
        ({"入党时间": ""}, "入党时间", "value_missing"),
        ({"党籍状态": "积极分子"}, "党籍状态", "status_invalid"),
        ({"党籍状态": "预备党员"}, "党籍状态", "status_conflict"),
        ({"手机号码": "1865959612"}, "手机号码", "phone_invalid"),
        ({"手机号码": "12345678901"}, "手机号码", "phone_invalid"),
        ({"户籍地": "999999"}, "户籍地", "region_unknown"),
        ({"姓名": ""}, "姓名", "value_missing"),
        ({"姓名": "赵六2"}, "姓名", "name_invalid"),
    ],
)
def test_a_faulty_row_is_refused_with_its_code(branch, overrides, column, code):
    report = check(branch, person(), person(**overrides))

    assert issues(report) == [(3, column, code)]
    assert [r.row for r in report.records] == [2]


def test_every_faulty_column_of_a_row_is_reported(branch):
    report = check(branch, person(手机号码="123", 入党时间="明天", 户籍地="000000"))

    assert issues(report) == [
        (2, "入党时间", "date_invalid"),
        (2, "手机号码", "phone_invalid"),
        (2, "户籍地", "region_unknown"),
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"手机号码": "１３９ ０００ ０１１１１"}, "phone", "13900001111"),
        ({"手机号码": "+86 139-0000-1111"}, "phone", "13900001111"),
        ({"手机号码": "0731-84567890"}, "phone", "0731-84567890"),
        ({"手机号码": ""}, "phone", ""),
        ({"姓名": " 阿依古丽 ・ 买买提 "}, "name", "阿依古丽·买买提"),
        ({"入党时间": "201507"}, "joined_on", datetime.date(2015, 7, 1)),
        ({"入党时间": "42186"}, "joined_on", datetime.date(2015, 7, 1)),
        ({"入党时间": "2015年7月1日"}, "joined_on", datetime.date(2015, 7, 1)),
        ({"出生日期": "1990.05"}, "birth_date", BIRTH),
        ({"出生日期": ""}, "birth_date", BIRTH),
        ({"性别": ""}, "gender", "female"),
        ({"党籍状态": ""}, "status", "full"),
        ({"党籍状态": "", "转正时间": ""}, "status", "probationary"),
        ({"民族": "维吾尔"}, "ethnicity_id", "05"),
        ({"学历": "大专"}, "education_id", "30"),
        ({"学历": "大学本科毕业"}, "education_id", "21"),
        ({"职业": "网约车司机"}, "occupation_id", "72"),
        ({"职业": "快递员"}, "occupation_id", "71"),
    ],
)
def test_a_value_is_read_into_its_field(branch, overrides, field, expected):
    report = check(branch, person(**overrides))

    assert report.errors == []
    assert report.records[0].fields[field] == expected


def test_a_lower_case_x_and_a_15_digit_number_are_accepted(branch):
    eighteen = "11010519491231002X"
    report = check(
        branch,
        person(
            身份证号码=eighteen.lower(), 出生日期="", 性别="", 入党时间="1975-07-01"
        ),
        person(
            身份证号码="110105491231002", 出生日期="", 性别="", 入党时间="1975-07-01"
        ),
    )

    assert issues(report) == [(3, "身份证号码", "duplicate_in_file")]
    assert report.records[0].fields["id_number"] == eighteen
    assert report.records[0].id_as_given == eighteen.lower()


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("民族", "火星族", "ethnicity_unknown"),
        ("学历", "自学成才", "education_unknown"),
        ("职业", "宇航员", "occupation_unknown"),
    ],
)
def test_an_unknown_code_table_value_is_left_empty_with_a_warning(
    branch, column, value, code
):
    report = check(branch, person(**{column: value}))

    assert report.valid == 1
    assert issues(report, "warnings") == [(2, column, code)]


def test_duplicates_within_the_file_keep_the_first_row(branch):
    first = person()

    report = check(branch, first, person(), dict(first, 姓名="赵六六"))

    assert issues(report) == [(4, "身份证号码", "duplicate_in_file")]
    assert [r.row for r in report.records] == [2, 3]


def test_commit_writes_members_their_periods_and_the_audit(branch):
    rows = [person(), person(姓名="钱七")]

    report = roster.commit(
        file=csv_file(*rows),
        organization=branch,
        actor=None,
        starts_on=datetime.date(2026, 1, 1),
    )

    assert (report.imported, report.committed) == (2, True)
    members = Member.objects.order_by("name")
    assert [m.name for m in members] == ["赵六", "钱七"]
    assert all(m.user_id is None for m in members)
    assert sorted(m.id_number for m in members) == sorted(r["身份证号码"] for r in rows)
    periods = MembershipPeriod.objects.all()
    assert {(p.organization_id, p.starts_on, p.last_day) for p in periods} == {
        (branch.pk, datetime.date(2026, 1, 1), None)
    }
    assert AuditEvent.objects.filter(action="member.create").count() == 2
    event = AuditEvent.objects.get(action="roster.import")
    assert (event.actor, event.organization) == (None, branch)
    assert event.details == {
        "file": "",
        "by": "operator command",
        "rows": 2,
        "valid": 2,
        "imported": 2,
        "unchanged": 0,
        "errors": 0,
        "warnings": 0,
        "all_or_nothing": False,
    }


def test_commit_writes_the_valid_rows_and_skips_the_faulty_ones(branch):
    report = roster.commit(
        file=csv_file(person(), person(手机号码="1")), organization=branch, actor=None
    )

    assert (report.imported, issues(report)) == (1, [(3, "手机号码", "phone_invalid")])
    assert Member.objects.count() == 1


def test_all_or_nothing_writes_nothing_when_a_row_fails(branch):
    report = roster.commit(
        file=csv_file(person(), person(手机号码="1")),
        organization=branch,
        actor=None,
        all_or_nothing=True,
    )

    assert (report.imported, report.refused, report.committed) == (0, True, False)
    assert Member.objects.count() == MembershipPeriod.objects.count() == 0
    assert AuditEvent.objects.get(action="roster.import").details["imported"] == 0


def test_all_or_nothing_writes_everything_when_every_row_is_valid(branch):
    report = roster.commit(
        file=csv_file(person(), person()),
        organization=branch,
        actor=None,
        all_or_nothing=True,
    )

    assert (report.imported, report.refused) == (2, False)
    assert Member.objects.count() == 2


def test_a_crash_in_the_middle_of_writing_leaves_the_database_as_before(
    branch, monkeypatch
):
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    real_write = importer._write_batch
    batches = []

    def write_then_crash(batch, **kwargs):
        batches.append(batch)
        if len(batches) == 2:
            raise RuntimeError("worker killed")
        real_write(batch, **kwargs)

    monkeypatch.setattr(importer, "_write_batch", write_then_crash)

    with pytest.raises(RuntimeError):
        roster.commit(
            file=csv_file(*(person() for _ in range(5))),
            organization=branch,
            actor=None,
        )

    assert len(batches) == 2
    assert Member.objects.count() == MembershipPeriod.objects.count() == 0
    assert not AuditEvent.objects.exists()


def test_importing_the_same_file_again_changes_nothing(branch):
    rows = [person(), person(姓名="钱七", 手机号码="")]
    roster.commit(file=csv_file(*rows), organization=branch, actor=None)
    before = list(Member.objects.order_by("pk").values())

    report = roster.commit(file=csv_file(*rows), organization=branch, actor=None)

    assert (report.imported, report.valid, report.errors) == (0, 0, [])
    assert report.unchanged == [2, 3]
    assert list(Member.objects.order_by("pk").values()) == before
    assert MembershipPeriod.objects.count() == 2
    assert AuditEvent.objects.filter(action="member.create").count() == 2


def test_a_stored_member_with_other_details_is_an_error_not_an_overwrite(branch):
    row = person()
    roster.commit(file=csv_file(row), organization=branch, actor=None)

    report = roster.commit(
        file=csv_file(dict(row, 手机号码="13700000000")),
        organization=branch,
        actor=None,
    )

    assert issues(report) == [(2, "身份证号码", "duplicate_in_database")]
    assert report.errors[0].message == (
        "This member is already stored here with different details (phone); "
        "an import never overwrites a record."
    )
    assert Member.objects.get().phone == "13900001111"


def test_a_member_held_by_another_organisation_is_an_error(branch, branch_b):
    row = person()
    factories.make_member(
        branch_b, id_number=row["身份证号码"], birth_date=BIRTH, gender="female"
    )

    report = check(branch, row)

    assert issues(report) == [(2, "身份证号码", "member_exists_elsewhere")]
    assert report.valid == 0


def test_a_row_may_name_its_branch_by_code_or_name_within_the_target(
    city_committee, branch_a, branch_b, province_b
):
    columns = (*COLUMNS, "党支部编码", "所在党支部")

    report = check(
        city_committee,
        person(党支部编码="B-A"),
        person(所在党支部="第二支部"),
        person(),
        person(党支部编码="P-B"),
        person(所在党支部="不存在的支部"),
        person(党支部编码="B-A", 所在党支部="第二支部"),
        columns=columns,
    )

    assert [(r.row, r.organization.code) for r in report.records] == [
        (2, "B-A"),
        (3, "B-B"),
        (4, "C-A"),
    ]
    assert issues(report) == [
        (5, "党支部编码", "organization_unknown"),
        (6, "所在党支部", "organization_unknown"),
        (7, "所在党支部", "organization_mismatch"),
    ]


def test_a_branch_name_shared_by_two_branches_is_ambiguous(city_committee, branch_b):
    factories.make_organization(city_committee, code="B-B2", name="第二支部")

    report = check(
        city_committee, person(所在党支部="第二支部"), columns=(*COLUMNS, "所在党支部")
    )

    assert issues(report) == [(2, "所在党支部", "organization_ambiguous")]


def test_a_secretary_imports_into_their_own_branch(branch_a, secretary_of_a):
    report = roster.commit(
        file=csv_file(person()), organization=branch_a, actor=secretary_of_a
    )

    assert report.imported == 1
    event = AuditEvent.objects.get(action="roster.import")
    assert (event.actor, event.details["by"]) == (secretary_of_a, "user")


def test_committee_staff_import_into_a_branch_below_them(branch_a, committee_staff):
    report = roster.commit(
        file=csv_file(person()), organization=branch_a, actor=committee_staff
    )

    assert report.imported == 1


@pytest.mark.parametrize("step", [roster.preview, roster.commit])
def test_a_secretary_cannot_import_into_another_branch(step, branch_a, secretary_of_b):
    with pytest.raises(OutOfScope):
        step(file=csv_file(person()), organization=branch_a, actor=secretary_of_b)

    assert Member.objects.count() == 0
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("step", [roster.preview, roster.commit])
def test_a_provincial_viewer_cannot_import(step, branch_a, provincial_viewer):
    with pytest.raises(ReadOnlyScope):
        step(file=csv_file(person()), organization=branch_a, actor=provincial_viewer)

    assert Member.objects.count() == 0


def test_an_outsider_cannot_import(branch_a, outsider):
    with pytest.raises(OutOfScope):
        roster.preview(file=csv_file(person()), organization=branch_a, actor=outsider)


def test_a_refused_file_writes_nothing(branch):
    with pytest.raises(roster.RosterFileError):
        roster.commit(
            file=io.BytesIO("é".encode("latin-1") * 50), organization=branch, actor=None
        )

    assert not AuditEvent.objects.exists()


def test_existing_members_are_looked_up_in_batches_not_per_row(
    branch, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(importer, "BATCH_SIZE", 10)
    rows = [person() for _ in range(30)]

    # Regions and three code tables once, then one look-up per batch of 10.
    with django_assert_num_queries(4 + 3):
        report = check(branch, *rows)

    assert report.valid == 30


def test_progress_is_reported_while_checking_and_writing(branch, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    heard = []

    roster.commit(
        file=csv_file(*(person() for _ in range(5))),
        organization=branch,
        actor=None,
        progress=lambda stage, done: heard.append((stage, done)),
    )

    assert heard == [
        ("check", 2),
        ("check", 4),
        ("write", 2),
        ("write", 4),
        ("write", 5),
    ]


def test_a_repeated_id_number_is_refused_even_when_its_first_row_fails(branch):
    first = person(手机号码="1")

    report = check(branch, first, dict(first, 手机号码="13900001111"))

    assert issues(report) == [
        (2, "手机号码", "phone_invalid"),
        (3, "身份证号码", "duplicate_in_file"),
    ]
    assert report.valid == 0
