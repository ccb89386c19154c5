"""Dues reconciliation exports: a ledger page's month or year as XLSX or CSV,
adding up to the page to the fen, scoped, masked and audited."""

import csv
import io
import zipfile
from decimal import Decimal

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils.http import urlencode
from openpyxl import load_workbook

from dues import exports
from dues.models import LedgerEntry
from dues.selectors import organization_ledger, organization_ledger_months
from members.identity import mask
from members.models import AuditEvent
from organizations.scope import scope_for
from tests import factories
from tests.dues.desk import assess, entries, pay

EXPORT_URL = reverse("admin:dues_ledger_export")
EXPORTED = "dues.ledger.exported"
FEN = Decimal("0.01")
MONEY = ("due", "paid", "outstanding", "voluntary")
MONEY_COLUMNS = {
    figure: exports.HEADERS.index(header)
    for figure, header in zip(
        MONEY, ("应缴金额", "已缴金额", "未缴金额", "自愿多缴"), strict=True
    )
}
NAME, ID_NUMBER, MONTH = (
    exports.HEADERS.index(h) for h in ("姓名", "身份证号码", "月份")
)
PERIODS = ["month", "year"]
DOWNLOADS = [("xlsx", "utf-8"), ("csv", "utf-8"), ("csv", "gbk")]


@pytest.fixture
def zhao(branch_a, secretary_of_a):
    """赵六 (branch A) owes 33.33 a month: sums of it drift as floats."""
    zhao = factories.make_member(branch_a, name="赵六", phone="13912345678")
    assess(zhao, secretary_of_a, base="3333.33")
    return zhao


@pytest.fixture
def ledger(member, member_of_b, zhao, branch_a, secretary_of_a, secretary_of_b):
    """Branch A: 张三 owes 15.00 a month, the oldest two paid with 5.00 on
    top; 赵六 owes 33.33, the oldest paid with 0.10 on top, the third
    waived. Branch B: 李四 owes 30.00, the oldest two paid, the second at
    branch A's desk. A cancelled month of 张三 counts nowhere."""
    assess(member, secretary_of_a)
    assess(member_of_b, secretary_of_b, base="3000.01")
    first, second, third = (e.month for e in entries(member)[:3])
    pay(member, secretary_of_a, [first, second], voluntary="5.00")
    pay(zhao, secretary_of_a, [first], voluntary="0.10")
    # Arranged directly: an approved reduction waives the month.
    LedgerEntry.objects.filter(member=zhao, month=third).update(
        status=LedgerEntry.Status.WAIVED
    )
    pay(member_of_b, secretary_of_b, [first, second])
    LedgerEntry.objects.filter(member=member_of_b, month=second).update(
        collected_by=branch_a
    )
    LedgerEntry.objects.create(
        member=member,
        month=second,
        organization=branch_a,
        amount_due=Decimal("99.99"),
        status=LedgerEntry.Status.CANCELLED,
    )
    return {"first": first, "second": second, "year": first.year}


def export_url(organization=None, **params) -> str:
    if organization is not None:
        params = {"organization": organization.pk, **params}
    return f"{EXPORT_URL}?{urlencode(params)}"


def period_params(ledger, period: str) -> dict:
    if period == "month":
        return {"month": f"{ledger['second']:%Y-%m}"}
    return {"year": ledger["year"]}


def download(client, organization, **params) -> bytes:
    response = client.get(export_url(organization, **params))
    assert response.status_code == 200, response.content
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    return b"".join(response.streaming_content)


def read_xlsx(data: bytes) -> list[list]:
    """The sheet's rows; money cells checked to be two-place numbers."""
    sheet = load_workbook(io.BytesIO(data))[exports.SHEET]
    rows = []
    for cells in sheet.iter_rows(min_row=2):
        row = [cell.value if cell.value is not None else "" for cell in cells]
        for index in MONEY_COLUMNS.values():
            cell = cells[index]
            assert cell.data_type == "n"
            assert cell.number_format == "0.00"
            row[index] = _fen(cell.value)
        rows.append(row)
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    return [header, *rows]


def read_csv(data: bytes, codec: str) -> list[list]:
    rows = list(csv.reader(io.StringIO(data.decode(codec), newline="")))
    for row in rows[1:]:
        for index in MONEY_COLUMNS.values():
            row[index] = _fen(row[index])
    return rows


def _fen(value) -> Decimal:
    # repr() is the shortest text of the float read back: a sum that drifted
    # (99.99000000000001) shows here and fails the two-place check.
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    assert amount == amount.quantize(FEN), value
    return amount


def read(data: bytes, file_format: str, encoding: str) -> list[list]:
    if file_format == "xlsx":
        return read_xlsx(data)
    if encoding == "utf-8":
        assert data.startswith(b"\xef\xbb\xbf")
        return read_csv(data, "utf-8-sig")
    assert not data.startswith(b"\xef\xbb\xbf")
    return read_csv(data, "gbk")


def export_table(client, organization, ledger, period, file_format, encoding):
    data = download(
        client,
        organization,
        format=file_format,
        encoding=encoding,
        **period_params(ledger, period),
    )
    return read(data, file_format, encoding)


def expected_ledger(actor, organization, ledger, period):
    """The ledger page's totals and entries for the period."""
    scope = scope_for(actor)
    if period == "month":
        summary = organization_ledger(
            scope=scope, organization=organization, month=ledger["second"]
        )
        return summary.totals, summary.entries
    year = organization_ledger_months(
        scope=scope, organization=organization, year=ledger["year"]
    )
    totals = {
        figure: sum((getattr(row.totals, figure) for row in year), Decimal("0.00"))
        for figure in MONEY
    }
    rows = [
        entry
        for row in year
        for entry in organization_ledger(
            scope=scope, organization=organization, month=row.month
        ).entries
    ]
    return totals, rows


def _figure(totals, figure):
    return totals[figure] if isinstance(totals, dict) else getattr(totals, figure)


# --- adding up to the ledger page -------------------------------------------


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize(("file_format", "encoding"), DOWNLOADS)
@pytest.mark.parametrize(
    ("where", "who"),
    [("city_committee", "committee_staff"), ("branch_a", "secretary_of_a")],
)
def test_the_export_adds_up_to_the_ledger_page_to_the_fen(
    client, ledger, request, where, who, period, file_format, encoding
):
    organization = request.getfixturevalue(where)
    actor = request.getfixturevalue(who)
    client.force_login(actor)

    table = export_table(client, organization, ledger, period, file_format, encoding)

    header, *rows, totals = table
    assert header == list(exports.HEADERS)
    expected, expected_entries = expected_ledger(actor, organization, ledger, period)
    assert totals[0] == exports.TOTALS_LABEL
    for figure, index in MONEY_COLUMNS.items():
        assert totals[index] == _figure(expected, figure), figure
        assert sum((row[index] for row in rows), Decimal("0.00")) == totals[index]
    assert sorted((row[NAME], row[MONTH]) for row in rows) == sorted(
        (e.member.name, f"{e.month:%Y-%m}") for e in expected_entries
    )


def test_a_months_figures_are_the_ones_arranged(
    client, ledger, city_committee, committee_staff
):
    client.force_login(committee_staff)

    *_, totals = export_table(client, city_committee, ledger, "month", "xlsx", "utf-8")

    # 15.00 + 33.33 + 30.00 due; 赵六's 33.33 unpaid; the cancelled 99.99
    # counts nowhere.
    assert [totals[MONEY_COLUMNS[f]] for f in MONEY] == [
        Decimal("78.33"),
        Decimal("45.00"),
        Decimal("33.33"),
        Decimal("5.00"),
    ]


def test_a_year_has_one_row_per_live_month_of_the_subtree(
    client, ledger, branch_a, member, zhao, secretary_of_a
):
    client.force_login(secretary_of_a)

    _header, *rows, totals = export_table(
        client, branch_a, ledger, "year", "csv", "utf-8"
    )

    live = LedgerEntry.objects.filter(
        member__in=[member, zhao], month__year=ledger["year"]
    ).exclude(status=LedgerEntry.Status.CANCELLED)
    assert len(rows) == live.count()
    assert totals[exports.HEADERS.index("状态")] == str(live.count())
    assert {row[NAME] for row in rows} == {"张三", "赵六"}
    statuses = {row[exports.HEADERS.index("状态")] for row in rows}
    assert statuses == {"已缴", "未缴", "减免"}


def test_a_month_not_yet_assessed_counts_as_nothing_due(
    client, ledger, branch_a, secretary_of_a
):
    newcomer = factories.make_member(branch_a, name="钱七")
    LedgerEntry.objects.create(
        member=newcomer, month=ledger["second"], organization=branch_a
    )
    client.force_login(secretary_of_a)

    _header, *rows, totals = export_table(
        client, branch_a, ledger, "month", "xlsx", "utf-8"
    )

    (row,) = (row for row in rows if row[NAME] == "钱七")
    assert [row[MONEY_COLUMNS[f]] for f in MONEY] == [Decimal("0.00")] * 4
    expected = organization_ledger(
        scope=scope_for(secretary_of_a), organization=branch_a, month=ledger["second"]
    ).totals
    assert [totals[MONEY_COLUMNS[f]] for f in MONEY] == [
        getattr(expected, f) for f in MONEY
    ]


def test_a_month_collected_for_another_branch_is_on_that_branchs_export(
    client, ledger, branch_a, branch_b, secretary_of_a, secretary_of_b
):
    client.force_login(secretary_of_a)
    at_desk = export_table(client, branch_a, ledger, "month", "csv", "utf-8")
    client.force_login(secretary_of_b)

    owed_to = export_table(client, branch_b, ledger, "month", "csv", "utf-8")

    assert "李四" not in {row[NAME] for row in at_desk[1:-1]}
    (row,) = owed_to[1:-1]
    assert (row[NAME], row[exports.HEADERS.index("代收组织")]) == ("李四", "第一支部")
    assert owed_to[-1][MONEY_COLUMNS["paid"]] == Decimal("30.00")


def test_the_gbk_csv_keeps_chinese_names_and_headers(
    client, ledger, branch_a, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(
        export_url(branch_a, format="csv", encoding="gbk", year=ledger["year"])
    )

    assert response["Content-Type"] == "text/csv; charset=gb18030"
    text = b"".join(response.streaming_content).decode("gbk")
    assert text.startswith("收缴组织,组织编码,姓名,身份证号码")
    assert "第一支部,B-A,张三," in text
    assert "赵六" in text


def test_a_rare_character_outside_gbk_survives_the_gbk_csv(
    client, branch_a, secretary_of_a
):
    rare = factories.make_member(branch_a, name="王𠮷")
    assess(rare, secretary_of_a)
    client.force_login(secretary_of_a)

    data = download(client, branch_a, format="csv", encoding="gbk")

    assert "王𠮷" in data.decode("gb18030")


def test_a_formula_in_a_name_is_written_as_text(client, branch_a, secretary_of_a):
    rogue = factories.make_member(branch_a, name="=HYPERLINK(1)")
    assess(rogue, secretary_of_a)
    client.force_login(secretary_of_a)

    csv_rows = read(download(client, branch_a, format="csv"), "csv", "utf-8")
    sheet = load_workbook(io.BytesIO(download(client, branch_a, format="xlsx")))

    assert csv_rows[1][NAME] == "'=HYPERLINK(1)"
    cell = sheet[exports.SHEET].cell(row=2, column=NAME + 1)
    assert (cell.value, cell.data_type) == ("=HYPERLINK(1)", "s")


# --- personal data ----------------------------------------------------------


@pytest.mark.parametrize(("file_format", "encoding"), DOWNLOADS)
def test_id_numbers_are_masked_and_phones_never_written(
    client, ledger, member, zhao, branch_a, operator, file_format, encoding
):
    # The operator sees full ID numbers elsewhere; a dues export never does.
    client.force_login(operator)

    data = download(
        client, branch_a, format=file_format, encoding=encoding, year=ledger["year"]
    )

    text = _all_text(data, file_format, encoding)
    for person in (member, zhao):
        assert person.id_number not in text
        assert person.id_number[6:14] not in text  # the birth date
        assert person.phone not in text
        assert mask(person.phone) not in text
    rows = read(data, file_format, encoding)[1:-1]
    assert {row[ID_NUMBER] for row in rows if row[NAME] == "张三"} == {
        mask(member.id_number)
    }


def _all_text(data: bytes, file_format: str, encoding: str) -> str:
    if file_format == "csv":
        return data.decode("utf-8-sig" if encoding == "utf-8" else "gbk")
    # Every part of the workbook, shared strings and metadata included.
    with zipfile.ZipFile(io.BytesIO(data)) as workbook:
        return "".join(workbook.read(name).decode() for name in workbook.namelist())


# --- audit ------------------------------------------------------------------


def test_each_export_is_audited_without_personal_data(
    client, ledger, member, branch_a, secretary_of_a
):
    client.force_login(secretary_of_a)

    download(client, branch_a, format="csv", encoding="gbk", year=ledger["year"])

    event = AuditEvent.objects.get(action=EXPORTED)
    assert event.actor == secretary_of_a
    assert event.organization == branch_a
    assert event.member is None
    live = LedgerEntry.objects.filter(
        organization=branch_a, month__year=ledger["year"]
    ).exclude(status=LedgerEntry.Status.CANCELLED)
    assert event.details == {
        "period": str(ledger["year"]),
        "months": [f"{ledger['year']}-{m:02d}" for m in range(1, 13)],
        "rows": live.count(),
        "format": "csv",
        "encoding": "gbk",
    }
    assert member.id_number not in str(event.details)


# --- who may export ---------------------------------------------------------


def test_a_secretary_cannot_export_another_branch(
    client, ledger, branch_a, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.get(export_url(branch_a, format="csv"))

    assert response.status_code == 404
    assert not response.has_header("Content-Disposition")
    assert not AuditEvent.objects.filter(action=EXPORTED).exists()


def test_committee_staff_export_their_subtree_only(
    client, ledger, member_of_c, branch_b, branch_c, committee_staff, operator
):
    assess(member_of_c, operator)
    client.force_login(committee_staff)

    rows = read(download(client, branch_b, format="csv"), "csv", "utf-8")[1:-1]
    outside = client.get(export_url(branch_c, format="csv"))

    assert {row[NAME] for row in rows} == {"李四"}
    assert outside.status_code == 404


def test_a_provincial_viewer_exports_their_province_only(
    client, ledger, city_committee, provincial_viewer, provincial_viewer_other
):
    client.force_login(provincial_viewer)
    assert client.get(export_url(city_committee, format="xlsx")).status_code == 200

    client.force_login(provincial_viewer_other)
    response = client.get(export_url(city_committee, format="xlsx"))

    assert response.status_code == 404
    assert not response.has_header("Content-Disposition")


def test_anonymous_is_sent_to_log_in(client, ledger, branch_a):
    url = export_url(branch_a, format="csv")

    response = client.get(url)

    assert response.status_code == 302
    login, query = response["Location"].split("?")
    assert login == reverse("admin:login")
    assert QueryDict(query)["next"] == url


def test_a_member_without_staff_rights_gets_no_file(client, ledger, member, branch_a):
    client.force_login(member.user)

    response = client.get(export_url(branch_a, format="csv"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not AuditEvent.objects.filter(action=EXPORTED).exists()


def test_staff_without_a_role_are_refused(client, ledger, branch_a, outsider):
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)

    response = client.get(export_url(branch_a, format="csv"))

    assert response.status_code == 403
    assert not response.has_header("Content-Disposition")


# --- bad requests -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "pdf"}, "Unknown format."),
        ({"format": ""}, "Unknown format."),
        ({"encoding": "latin-1"}, "Unknown encoding."),
        ({"month": "2026-13"}, "Unknown month."),
        ({"month": "last"}, "Unknown month."),
        ({"year": "20x6"}, "Unknown year."),
        ({"year": "0"}, "Unknown year."),
        ({"year": "99999"}, "Unknown year."),
        ({"year": "²⁰²⁶"}, "Unknown year."),
    ],
)
def test_a_bad_parameter_is_refused_with_no_file(
    client, ledger, branch_a, secretary_of_a, params, message
):
    client.force_login(secretary_of_a)

    response = client.get(export_url(branch_a, **params))

    assert response.status_code == 400
    assert response.content.decode() == message
    assert not response.has_header("Content-Disposition")
    assert not AuditEvent.objects.filter(action=EXPORTED).exists()


def test_an_export_without_an_organization_is_refused(client, ledger, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(export_url(format="csv"))

    assert response.status_code == 400
    assert response.content.decode() == "Choose an organization."
    assert not AuditEvent.objects.filter(action=EXPORTED).exists()


@pytest.mark.parametrize("organization", ["abc", "999999"])
def test_an_unknown_organization_is_not_found(
    client, ledger, secretary_of_a, organization
):
    client.force_login(secretary_of_a)

    response = client.get(f"{EXPORT_URL}?organization={organization}&format=csv")

    assert response.status_code == 404
    assert not response.has_header("Content-Disposition")


# --- the ledger page the exports hang from ----------------------------------


@pytest.mark.parametrize("year", ["0", "99999", "²⁰²⁶"])
def test_the_ledger_page_refuses_a_year_outside_the_calendar(
    client, ledger, branch_a, secretary_of_a, year
):
    client.force_login(secretary_of_a)

    response = client.get(
        reverse("admin:dues_ledger") + f"?organization={branch_a.pk}&year={year}"
    )

    assert response.status_code == 400


def test_the_ledger_pages_arrears_link_opens_the_same_organization(
    client, ledger, branch_b, secretary_of_b
):
    client.force_login(secretary_of_b)
    page = client.get(reverse("admin:dues_ledger") + f"?organization={branch_b.pk}")

    response = client.get(page.context["arrears_url"])

    assert response.status_code == 200
    assert response.context["organization"] == branch_b
