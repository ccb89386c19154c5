"""The streamed roster export: scope, masking, encodings, injection, audit."""

import csv
import io

import pytest
from django.urls import reverse

from members.exports import HEADERS, neutralise
from members.identity import mask
from members.models import AuditEvent
from tests import factories

EXPORT_URL = reverse("admin:members_member_export")


@pytest.fixture
def everyone(member, member_of_b, member_of_c):
    return {"张三": member, "李四": member_of_b, "王五": member_of_c}


def export(client, user, query=""):
    client.force_login(user)
    return client.get(EXPORT_URL + query)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def rows(response, encoding="utf-8-sig"):
    return list(csv.reader(io.StringIO(body(response).decode(encoding))))


def names(response):
    return sorted(row[0] for row in rows(response)[1:])


def test_the_export_streams(client, everyone, secretary_of_a):
    response = export(client, secretary_of_a)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")


def test_the_first_row_holds_the_headers_the_import_reads(
    client, everyone, secretary_of_a
):
    assert rows(export(client, secretary_of_a))[0] == list(HEADERS)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("secretary_of_a", ["张三"]),
        ("secretary_of_b", ["李四"]),
        ("committee_staff", ["张三", "李四"]),
        ("provincial_viewer", ["张三", "李四"]),
        ("provincial_viewer_other", ["王五"]),
        ("operator", ["张三", "李四", "王五"]),
    ],
)
def test_the_export_holds_exactly_the_members_in_scope(
    request, client, everyone, role, expected
):
    assert names(export(client, request.getfixturevalue(role))) == expected


def test_a_secretary_of_b_exporting_branch_a_gets_an_empty_roster(
    client, everyone, branch_a, secretary_of_b
):
    response = export(client, secretary_of_b, f"?organization={branch_a.pk}")

    assert rows(response) == [list(HEADERS)]


def test_the_export_applies_the_changelist_filters_and_search(
    client, everyone, branch_b, committee_staff
):
    by_filter = export(client, committee_staff, f"?organization={branch_b.pk}")
    by_search = export(client, committee_staff, f"?q={everyone['张三'].id_number}")

    assert names(by_filter) == ["李四"]
    assert names(by_search) == ["张三"]


def test_an_outsider_gets_no_export(client, everyone, outsider):
    response = export(client, outsider)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_visitors_get_no_export(client, everyone):
    response = client.get(EXPORT_URL)

    assert response.status_code == 302
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", ["secretary_of_a", "committee_staff", "operator"])
def test_roles_allowed_full_numbers_export_them(request, client, everyone, role):
    member = everyone["张三"]

    exported = {
        row[0]: row for row in rows(export(client, request.getfixturevalue(role)))
    }

    assert exported["张三"][1] == member.id_number
    assert exported["张三"][10] == "13800138000"


@pytest.mark.parametrize("role", ["provincial_viewer", "provincial_viewer_other"])
def test_provincial_viewers_always_export_masked_numbers(
    request, client, everyone, role
):
    response = export(client, request.getfixturevalue(role))

    for row in rows(response)[1:]:
        member = everyone[row[0]]
        assert row[1] == mask(member.id_number)
        assert row[10] == mask(member.phone)


def test_numbers_are_masked_where_a_mixed_scope_only_reads(
    client, everyone, province_a, secretary_of_a
):
    factories.make_role(secretary_of_a, province_a, "provincial_viewer")

    exported = {row[0]: row for row in rows(export(client, secretary_of_a))}

    assert exported["张三"][1] == everyone["张三"].id_number
    assert exported["李四"][1] == mask(everyone["李四"].id_number)


def test_the_utf8_export_starts_with_a_byte_order_mark(
    client, everyone, secretary_of_a
):
    content = body(export(client, secretary_of_a))

    assert content.startswith(b"\xef\xbb\xbf" + "姓名".encode())


def test_the_gbk_export_decodes_as_gbk_without_a_byte_order_mark(
    client, everyone, secretary_of_a
):
    response = export(client, secretary_of_a, "?encoding=gbk")
    content = body(response)

    assert response["Content-Type"] == "text/csv; charset=gb18030"
    assert content.startswith("姓名".encode("gbk"))
    assert content.decode("gbk").splitlines()[1].startswith("张三,")


def test_the_gbk_export_keeps_a_name_outside_gbk(client, branch_a, secretary_of_a):
    factories.make_member(branch_a, name="𠮷田")

    response = export(client, secretary_of_a, "?encoding=gbk")

    assert "𠮷田" in body(response).decode("gb18030")


def test_an_unknown_encoding_is_refused(client, everyone, secretary_of_a):
    response = export(client, secretary_of_a, "?encoding=latin-1")

    assert response.status_code == 400
    assert not AuditEvent.objects.exists()


def test_a_cell_that_looks_like_a_formula_is_exported_as_text(
    client, branch_a, secretary_of_a
):
    factories.make_member(branch_a, name='=HYPERLINK("http://x")', work_unit="+1")

    exported = rows(export(client, secretary_of_a))[1]

    assert exported[0] == '\'=HYPERLINK("http://x")'
    assert exported[8] == "'+1"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(start):
    assert neutralise(start + "SUM(A1)") == "'" + start + "SUM(A1)"


def test_ordinary_cells_are_left_alone():
    assert neutralise("张三") == "张三"


def test_an_export_is_recorded_with_filter_rows_and_masking(
    client, everyone, branch_b, provincial_viewer
):
    export(client, provincial_viewer, f"?organization={branch_b.pk}&encoding=gbk")

    event = AuditEvent.objects.get(action="roster.export")
    assert event.actor == provincial_viewer
    assert event.details == {
        "filters": {"organization": str(branch_b.pk)},
        "search": "",
        "rows": 1,
        "masked": True,
        "encoding": "gbk",
        "format": "csv",
    }


def test_an_unmasked_export_is_recorded_as_unmasked(client, everyone, secretary_of_a):
    export(client, secretary_of_a)

    event = AuditEvent.objects.get(action="roster.export")
    assert (event.details["rows"], event.details["masked"]) == (1, False)


def test_a_search_term_is_recorded_only_masked(client, everyone, committee_staff):
    number = everyone["张三"].id_number

    export(client, committee_staff, f"?q={number}")

    event = AuditEvent.objects.get(action="roster.export")
    assert event.details["search"] == mask(number)
    assert number not in str(event.details)


def test_the_export_reads_members_in_chunks_from_a_cursor(
    client, everyone, secretary_of_a, monkeypatch
):
    from django.db.models.query import QuerySet

    chunk_sizes = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)

    body(export(client, secretary_of_a))

    assert chunk_sizes == [2000]


def test_the_changelist_links_to_the_export_with_its_filters(
    client, everyone, branch_a, committee_staff
):
    client.force_login(committee_staff)

    html = client.get(
        reverse("admin:members_member_changelist") + f"?organization={branch_a.pk}"
    ).content.decode()

    assert f'href="{EXPORT_URL}?organization={branch_a.pk}"' in html
    assert f'href="{EXPORT_URL}?organization={branch_a.pk}&amp;encoding=gbk"' in html
