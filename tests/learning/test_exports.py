"""Study hours exports: the selector's numbers, masked, in every encoding."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from learning import exports
from learning.models import OfflineStudy
from learning.rules import LOCAL_TIME_ZONE
from learning.selectors.hours import hours_compliance
from members.models import AuditEvent
from organizations.scope import scope_for
from tests import factories

YEAR = datetime.datetime.now(LOCAL_TIME_ZONE).year


@pytest.fixture
def studied(branch_a, member):
    """张三 studied 33 hours (at target); 赵六 studied 1.25 (not)."""
    zhao = factories.make_member(branch_a, name="赵六")
    for who, day, hours in (
        (member, 2, "16.50"),
        (member, 3, "16.50"),
        (zhao, 2, "1.25"),
    ):
        OfflineStudy.objects.create(
            member=who,
            title="党课",
            studied_on=datetime.date(YEAR, 1, day),
            hours=Decimal(hours),
        )
    return zhao


def download(client, organization, file_format, encoding="utf-8"):
    query = f"organization={organization.pk}&year={YEAR}"
    query += f"&format={file_format}&encoding={encoding}"
    response = client.get(reverse("admin:learning_hours_export") + "?" + query)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def csv_rows(data: bytes, codec: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(codec))))


def expected_rows(secretary, organization):
    compliance = hours_compliance(
        scope=scope_for(secretary), organization=organization, year=YEAR
    )
    return [
        [organization.name, m.name, f"{m.hours}", f"{m.target}"]
        for m in compliance.members
    ], compliance


def test_csv_utf8_starts_with_a_bom_and_has_the_selectors_numbers(
    client, studied, branch_a, secretary_of_a
):
    client.force_login(secretary_of_a)

    data = download(client, branch_a, "csv")

    assert data.startswith("\ufeff".encode())
    rows = csv_rows(data, "utf-8-sig")
    expected, compliance = expected_rows(secretary_of_a, branch_a)
    assert rows[0] == list(exports.HEADERS)
    assert [row[:4] for row in rows[1:-2]] == expected
    assert [row[4] for row in rows[1:-2]] == ["是", "否"]
    assert rows[-2] == ["合计", "2", "", "", f"{compliance.at_target}"]
    assert rows[-1] == ["达标率", "", "", "", f"{compliance.share}"]
    assert AuditEvent.objects.filter(action="learning.hours.exported").count() == 1


def test_csv_gbk_has_no_bom_and_decodes(client, studied, branch_a, secretary_of_a):
    client.force_login(secretary_of_a)

    data = download(client, branch_a, "csv", "gbk")

    assert not data.startswith(b"\xef\xbb\xbf")
    assert csv_rows(data, "gb18030")[1][1] == "张三"


def test_xlsx_has_the_same_numbers_and_no_personal_data_but_names(
    client, studied, branch_a, secretary_of_a, member
):
    client.force_login(secretary_of_a)

    data = download(client, branch_a, "xlsx")

    sheet = load_workbook(io.BytesIO(data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    expected, _compliance = expected_rows(secretary_of_a, branch_a)
    assert [
        [r[0], r[1], f"{Decimal(str(r[2])):.2f}", f"{r[3]}"] for r in rows[1:-2]
    ] == expected
    flat = " ".join(str(c) for r in rows for c in r)
    assert member.id_number not in flat
    assert member.phone not in flat


def test_a_bad_encoding_is_refused(client, studied, branch_a, secretary_of_a):
    client.force_login(secretary_of_a)
    url = reverse("admin:learning_hours_export")

    response = client.get(f"{url}?organization={branch_a.pk}&year={YEAR}&encoding=x")

    assert response.status_code == 400
