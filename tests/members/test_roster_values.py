import datetime

import pytest

from members.identity import IdentityError, parse_id_number
from members.roster.values import (
    ParsedDate,
    ValueProblem,
    as_text,
    id_text,
    normalise_name,
    parse_date,
    parse_gender,
    parse_status,
    phone_text,
)

JULY_FIRST = datetime.date(2019, 7, 1)


@pytest.mark.parametrize(
    "written",
    [
        "2019-07-01",
        "2019-7-1",
        "2019/7/1",
        "2019/07/01",
        "2019.07.01",
        "2019.7.1",
        "2019年7月1日",
        "2019 年 7 月 1 日",
        "20190701",
        "２０１９-０７-０１",
        "2019-07-01 00:00:00",
        20190701,
        datetime.datetime(2019, 7, 1),  # noqa: DTZ001 (openpyxl cells are naive)
        JULY_FIRST,
    ],
)
def test_a_day_written_in_any_roster_form_is_read(written):
    assert parse_date(written) == ParsedDate(JULY_FIRST)


@pytest.mark.parametrize(
    "written", ["201907", 201907, "2019.07", "2019-7", "2019年7月"]
)
def test_a_month_alone_reads_as_its_first_day(written):
    assert parse_date(written) == ParsedDate(JULY_FIRST, day_known=False)


@pytest.mark.parametrize("serial", [43647, 43647.0, "43647", "43647.0"])
def test_an_excel_serial_number_is_a_day_of_the_1900_system(serial):
    assert parse_date(serial) == ParsedDate(JULY_FIRST)


def test_serials_before_the_phantom_29_february_1900_are_counted_as_excel_does():
    assert parse_date(1).value == datetime.date(1900, 1, 1)
    assert parse_date(59).value == datetime.date(1900, 2, 28)
    assert parse_date(61).value == datetime.date(1900, 3, 1)


def test_a_serial_of_a_1904_workbook_counts_from_1904():
    assert parse_date(42185, date1904=True).value == JULY_FIRST


@pytest.mark.parametrize(
    "written",
    ["2019-13-45", "2019-02-30", "7/1/2019", "明年", "43647.5", 60, "1899-12-31"]
    + ["2019", 1990],
)
def test_an_impossible_ambiguous_or_year_only_date_is_refused(written):
    with pytest.raises(ValueProblem) as problem:
        parse_date(written)

    assert problem.value.code == "date_invalid"


@pytest.mark.parametrize("blank", [None, "", "   ", "\u3000"])
def test_a_blank_date_is_none(blank):
    assert parse_date(blank) is None


def test_full_width_digits_letters_and_spaces_are_folded():
    assert as_text("　ＡＢＣ　１２３　") == "ABC 123"


def test_spreadsheet_keep_as_text_wrappers_are_removed():
    assert as_text('="43010219900101001X"') == "43010219900101001X"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("刘丽娟  ", "刘丽娟"),
        ("王　丽", "王丽"),
        ("张 三", "张三"),
        ("热依拉・艾买提", "热依拉·艾买提"),
        ("米娜瓦尔•吐尔逊", "米娜瓦尔·吐尔逊"),
        ("艾力‧买买提", "艾力·买买提"),
        ("艾力･买买提", "艾力·买买提"),
        ("阿依古丽 . 买买提", "阿依古丽·买买提"),
        ("阿依古丽．买买提", "阿依古丽·买买提"),
        ("阿依古丽··买买提", "阿依古丽·买买提"),
        ("John  Smith", "John Smith"),
    ],
)
def test_a_name_is_trimmed_to_one_canonical_dot_and_no_stray_spaces(written, expected):
    assert normalise_name(written) == expected


def test_characters_outside_the_basic_plane_are_kept_intact():
    assert normalise_name(" 𠮷淑珍 ") == "𠮷淑珍"


def test_cjk_compatibility_ideographs_in_a_name_are_not_normalised_away():
    assert normalise_name("金\uf90a") == "金\uf90a"


def test_a_lower_case_x_is_upper_cased():
    assert parse_id_number(id_text("11010519491231002x")).value == "11010519491231002X"


def test_a_15_digit_number_is_converted_to_18_characters():
    assert parse_id_number(id_text("110105491231002")).value == "11010519491231002X"


def test_a_15_digit_number_stored_as_a_number_cell_is_converted():
    assert parse_id_number(id_text(110105491231002)).value == "11010519491231002X"


@pytest.mark.parametrize("damaged", ["4.30102E+17", "4.30102e17", 4.301021990010112e17])
def test_scientific_notation_is_refused(damaged):
    with pytest.raises(IdentityError) as error:
        parse_id_number(id_text(damaged))

    assert error.value.code == "id_scientific_notation"


@pytest.mark.parametrize(
    "damaged",
    ["430102199001021000", 430102199001011000, "43010219900101100", "4301021990010110"],
)
def test_an_id_number_that_lost_its_last_digits_is_refused(damaged):
    with pytest.raises(IdentityError) as error:
        id_text(damaged)

    assert error.value.code == "id_truncated"


def test_a_valid_number_ending_in_000_is_not_mistaken_for_a_truncated_one():
    assert id_text("110101199001031000") == "110101199001031000"


@pytest.mark.parametrize(
    ("written", "expected"),
    [("男", "male"), ("女", "female"), (" 女性 ", "female"), ("M", "male"), ("", None)],
)
def test_gender_words_are_read(written, expected):
    assert parse_gender(written) == expected


def test_an_unknown_gender_word_is_refused():
    with pytest.raises(ValueProblem) as problem:
        parse_gender("未知")

    assert problem.value.code == "gender_invalid"


@pytest.mark.parametrize(
    ("written", "expected"),
    [("正式党员", "full"), ("预备党员", "probationary"), ("预备", "probationary")],
)
def test_status_words_are_read(written, expected):
    assert parse_status(written) == expected


def test_a_phone_in_a_number_cell_keeps_all_its_digits():
    assert phone_text(13800138000.0) == "13800138000"
