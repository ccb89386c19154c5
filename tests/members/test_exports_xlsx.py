"""The roster export as XLSX: text cells, dates, masking, formulas, audit."""

import datetime
import io

import openpyxl
import pytest
from django.urls import reverse

from members import exports
from members.exports import HEADERS
from members.identity import mask
from members.models import AuditEvent
from tests import factories

EXPORT_URL = reverse("admin:members_member_export")
ID, PHONE, BIRTH, JOINED, NAME, WORK_UNIT = (
    HEADERS.index(h)
    for h in ("身份证号码", "手机号码", "出生日期", "入党时间", "姓名", "工作单位")
)


@pytest.fixture
def everyone(member, member_of_b, member_of_c):
    return {"张三": member, "李四": member_of_b, "王五": member_of_c}


def export(client, user, query="?format=xlsx"):
    client.force_login(user)
    return client.get(EXPORT_URL + query)


def sheet(response):
    content = b"".join(response.streaming_content)
    return openpyxl.load_workbook(io.BytesIO(content))[exports.ROSTER_SHEET]


def cells(response):
    return [list(row) for row in sheet(response).iter_rows()]


def by_name(response):
    return {row[NAME].value: row for row in cells(response)[1:]}


def test_the_xlsx_export_is_a_workbook_download(client, everyone, secretary_of_a):
    response = export(client, secretary_of_a)

    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert response["Content-Disposition"].startswith('attachment; filename="roster-')
    assert response["Content-Disposition"].endswith('.xlsx"')
    assert "no-store" in response["Cache-Control"]


def test_the_xlsx_export_has_the_same_headers_as_the_csv(
    client, everyone, secretary_of_a
):
    assert [c.value for c in cells(export(client, secretary_of_a))[0]] == list(HEADERS)


def test_id_numbers_and_phones_are_text_cells_in_text_format(
    client, everyone, secretary_of_a
):
    row = by_name(export(client, secretary_of_a))["张三"]

    assert (row[ID].value, row[ID].data_type, row[ID].number_format) == (
        everyone["张三"].id_number,
        "s",
        "@",
    )
    assert (row[PHONE].value, row[PHONE].data_type, row[PHONE].number_format) == (
        "13800138000",
        "s",
        "@",
    )


def test_dates_are_date_cells(client, everyone, secretary_of_a):
    row = by_name(export(client, secretary_of_a))["张三"]

    # openpyxl reads a date cell back as a naive datetime at midnight.
    assert row[BIRTH].is_date
    assert row[BIRTH].value.date() == datetime.date(1985, 6, 15)
    assert row[JOINED].value.date() == datetime.date(2010, 7, 1)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("secretary_of_a", ["张三"]),
        ("committee_staff", ["张三", "李四"]),
        ("provincial_viewer_other", ["王五"]),
        ("operator", ["张三", "李四", "王五"]),
    ],
)
def test_the_xlsx_export_holds_exactly_the_members_in_scope(
    request, client, everyone, role, expected
):
    response = export(client, request.getfixturevalue(role))

    assert sorted(by_name(response)) == expected


@pytest.mark.parametrize("role", ["provincial_viewer", "provincial_viewer_other"])
def test_provincial_viewers_get_masked_numbers_in_the_workbook_too(
    request, client, everyone, role
):
    response = export(client, request.getfixturevalue(role))

    for name, row in by_name(response).items():
        assert row[ID].value == mask(everyone[name].id_number)
        # An empty cell reads back as None.
        assert (row[PHONE].value or "") == mask(everyone[name].phone)


def test_numbers_are_masked_where_a_mixed_scope_only_reads(
    client, everyone, province_a, secretary_of_a
):
    factories.make_role(secretary_of_a, province_a, "provincial_viewer")

    rows = by_name(export(client, secretary_of_a))

    assert rows["张三"][ID].value == everyone["张三"].id_number
    assert rows["李四"][ID].value == mask(everyone["李四"].id_number)


@pytest.mark.parametrize(
    "value", ['=HYPERLINK("http://x")', "=1+2", "+1", "-1", "@SUM(A1)", "#N/A"]
)
def test_a_cell_that_looks_like_a_formula_is_written_as_quoted_text(
    client, branch_a, secretary_of_a, value
):
    factories.make_member(branch_a, name="赵六", work_unit=value)

    cell = by_name(export(client, secretary_of_a))["赵六"][WORK_UNIT]

    assert (cell.value, cell.data_type, cell.quotePrefix) == (value, "s", True)


def test_no_cell_of_the_workbook_is_a_formula(client, branch_a, secretary_of_a):
    factories.make_member(branch_a, name="=1+1", work_unit="=cmd|' /C calc'!A0")

    rows = cells(export(client, secretary_of_a))

    assert [c.coordinate for row in rows for c in row if c.data_type == "f"] == []


def test_control_characters_are_dropped_instead_of_breaking_the_workbook(
    client, branch_a, secretary_of_a
):
    factories.make_member(branch_a, name="钱七", work_unit="某\x07公司")

    row = by_name(export(client, secretary_of_a))["钱七"]

    assert row[WORK_UNIT].value == "某公司"


def test_the_xlsx_export_is_recorded_like_the_csv(
    client, everyone, branch_b, provincial_viewer
):
    export(client, provincial_viewer, f"?organization={branch_b.pk}&format=xlsx")

    event = AuditEvent.objects.get(action="roster.export")
    assert event.actor == provincial_viewer
    assert event.details == {
        "filters": {"organization": str(branch_b.pk)},
        "search": "",
        "rows": 1,
        "masked": True,
        "encoding": "utf-8",
        "format": "xlsx",
    }


def test_an_unknown_format_is_refused_and_not_recorded(
    client, everyone, secretary_of_a
):
    response = export(client, secretary_of_a, "?format=pdf")

    assert response.status_code == 400
    assert not AuditEvent.objects.exists()


def test_the_xlsx_export_reads_members_in_chunks_from_a_cursor(
    client, everyone, secretary_of_a, monkeypatch
):
    from django.db.models.query import QuerySet

    chunk_sizes = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)

    sheet(export(client, secretary_of_a))

    assert chunk_sizes == [2000]


def test_the_changelist_links_to_the_xlsx_export_with_its_filters(
    client, everyone, branch_a, committee_staff
):
    client.force_login(committee_staff)

    html = client.get(
        reverse("admin:members_member_changelist") + f"?organization={branch_a.pk}"
    ).content.decode()

    assert f'href="{EXPORT_URL}?organization={branch_a.pk}&amp;format=xlsx"' in html


def test_the_workbook_is_written_to_a_temporary_file_not_held_in_memory(
    everyone, monkeypatch
):
    from members.models import Member
    from organizations.scope import Scope

    opened = []
    original = exports.tempfile.TemporaryFile

    def spy(*args, **kwargs):
        opened.append(original(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(exports.tempfile, "TemporaryFile", spy)

    out = exports.roster_xlsx(Member.objects.all(), scope=Scope(None, is_operator=True))

    assert opened == [out]
    assert out.tell() == 0
    assert out.read(4) == b"PK\x03\x04"
