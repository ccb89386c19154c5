"""Reading roster files: formats, encodings, header rows and row numbers."""

import io
import zipfile

import openpyxl
import pytest

from members import roster
from members.roster.reader import RosterFileError, decode, open_tables
from tests import factories

HEADER = "姓名,身份证号码,性别,入党时间"
ID = "11010519491231002X"
TEXT = f"{HEADER}\r\n𠮷淑珍,{ID},女,1975-07-01\r\n"


def rows_of(source):
    with open_tables(source) as tables:
        return tables[0], list(tables[0].rows)


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gbk"),
        ("gb18030", "gb18030"),
    ],
)
def test_csv_in_each_supported_encoding_is_read(encoding, reported):
    # 𠮷 lies outside GBK: replace it there so the text stays encodable.
    text = TEXT if encoding != "gbk" else TEXT.replace("𠮷", "吉")

    table, rows = rows_of(io.BytesIO(text.encode(encoding)))

    assert table.encoding == reported
    assert rows[1][1][0] == text.splitlines()[1].split(",")[0]


def test_a_gbk_file_with_a_middle_dot_decodes_to_the_middle_dot():
    encoding, text = decode("阿依古丽·买买提".encode("gbk"))

    assert (encoding, text) == ("gbk", "阿依古丽·买买提")


@pytest.mark.parametrize(
    "data",
    [
        "Café, résumé, naïve; ça va très bien, merci".encode("latin-1") * 5,
        bytes(range(128, 256)) * 8,
        TEXT.encode("utf-16"),
        b"\x00\x01\x02\x03" * 100,
    ],
    ids=["latin-1", "high-bytes", "utf-16", "binary"],
)
def test_a_file_in_no_supported_encoding_is_refused(data):
    with pytest.raises(RosterFileError) as error:
        rows_of(io.BytesIO(data))

    assert error.value.code == "file_encoding"


def test_a_csv_row_is_numbered_by_the_line_it_starts_on():
    data = f'{HEADER}\r\n\r\n"张三\r\n(备注)",{ID},男,1990-01-01\r\n李四,1,男,\r\n'

    _table, rows = rows_of(io.BytesIO(data.encode()))

    assert [number for number, _cells in rows] == [1, 2, 3, 5]


def test_tab_separated_text_is_read_by_its_tabs():
    data = f"{HEADER.replace(',', chr(9))}\n张三\t{ID}\t男\t1990-01-01\n"

    _table, rows = rows_of(io.BytesIO(data.encode()))

    assert rows[1][1] == ["张三", ID, "男", "1990-01-01"]


def test_workbook_rows_count_title_and_blank_rows(tmp_path):
    path = tmp_path / "r.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = "花名册"
    sheet.merge_cells("A1:D1")
    sheet.append([])
    sheet["A4"] = "姓名"

    book.save(path)
    _table, rows = rows_of(path)

    assert [number for number, _cells in rows] == [1, 2, 3, 4]
    assert rows[3][1][0] == "姓名"


def test_a_file_that_is_no_roster_is_refused_whatever_its_name(tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(b"PK\x03\x04not really a zip")

    with pytest.raises(RosterFileError) as error:
        rows_of(path)

    assert error.value.code == "file_format"


def test_a_zip_that_is_not_a_workbook_is_refused():
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as package:
        package.writestr("readme.txt", "hello")

    with pytest.raises(RosterFileError) as error:
        rows_of(data)

    assert error.value.code == "file_format"


def test_a_workbook_with_macros_is_refused():
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as package:
        package.writestr("xl/workbook.xml", "<workbook/>")
        package.writestr("xl/vbaProject.bin", b"\x00")

    with pytest.raises(RosterFileError) as error:
        rows_of(data)

    assert error.value.code == "file_macro"


@pytest.fixture
def branch(db):
    return factories.make_organization(code="R-1", region="430104")


def preview_csv(branch, text, encoding="utf-8"):
    return roster.preview(
        file=io.BytesIO(text.encode(encoding)), organization=branch, actor=None
    )


def test_the_header_is_found_below_title_and_blank_rows(branch, tmp_path):
    path = tmp_path / "titled.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["中共某某支部党员花名册"])
    sheet.merge_cells("A1:F1")
    sheet.append(["填报单位：某某支部", None, None, "填报日期：2026年11月"])
    sheet.append([])
    sheet.append(["序号", "姓名", "公民身份号码", "性别", "入党日期"])
    sheet.append([1, "张三", ID, "女", "1975-07-01"])
    book.save(path)

    report = roster.preview(file=path, organization=branch, actor=None)

    assert (report.header_row, report.valid, report.errors) == (4, 1, [])


def test_the_roster_is_read_from_the_first_sheet_that_holds_one(branch, tmp_path):
    path = tmp_path / "two-sheets.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["填表说明：身份证号码请以文本格式填写"])
    hidden = book.create_sheet("隐藏")
    hidden.append(HEADER.split(","))
    hidden.sheet_state = "hidden"
    book.create_sheet("花名册").append(HEADER.split(","))
    book["花名册"].append(["张三", ID, "女", "1975-07-01"])
    book.save(path)

    report = roster.preview(file=path, organization=branch, actor=None)

    assert (report.header_row, report.valid) == (1, 1)


def test_header_variants_with_markers_and_notes_are_recognised(branch):
    text = (
        "姓 名*,公民身份号码（必填）,性别,出生年月,加入党组织日期,"
        "转为正式党员日期,党籍状态（正式党员或预备党员）,手机\n"
        f"张三,{ID},女,1949.12,1975-07-01,1976-07-01,正式党员,13800138000\n"
    )

    report = preview_csv(branch, text)

    assert report.errors == []
    assert report.warnings == []
    fields = report.records[0].fields
    assert (fields["full_member_on"].year, fields["status"], fields["phone"]) == (
        1976,
        "full",
        "13800138000",
    )


def test_an_unknown_column_is_a_warning_not_an_error(branch):
    report = preview_csv(branch, f"{HEADER},籍贯\n张三,{ID},女,1975-07-01,湖南长沙\n")

    assert report.valid == 1
    assert [(w.row, w.column, w.code) for w in report.warnings] == [
        (1, "籍贯", "column_unknown")
    ]


def test_a_file_without_a_header_row_is_refused(branch):
    with pytest.raises(RosterFileError) as error:
        preview_csv(branch, "甲,乙,丙\n1,2,3\n")

    assert error.value.code == "header_not_found"


def test_a_header_without_the_joining_date_is_refused(branch):
    with pytest.raises(RosterFileError) as error:
        preview_csv(branch, f"姓名,身份证号码\n张三,{ID}\n")

    assert error.value.code == "column_missing"


def test_rows_holding_only_a_running_number_are_skipped(branch):
    report = preview_csv(
        branch, f"序号,{HEADER}\n1,张三,{ID},女,1975-07-01\n2,,,,\n3,,,,\n"
    )

    assert (report.rows, report.valid, report.errors) == (1, 1, [])


def test_a_row_with_data_only_in_an_unknown_column_is_reported_not_dropped(branch):
    report = preview_csv(branch, f"{HEADER},籍贯\n张三,{ID},女,1975-07-01,\n,,,,湖南\n")

    assert report.rows == 2
    assert [(e.row, e.code) for e in report.errors] == [
        (3, "value_missing"),
        (3, "value_missing"),
        (3, "value_missing"),
    ]
