import datetime

import pytest

from members.identity import (
    IdentityError,
    check_consistency,
    convert_legacy,
    mask,
    parse_id_number,
    parse_phone,
)


def test_a_valid_number_yields_birth_date_and_gender():
    parsed = parse_id_number("11010519491231002X")

    assert parsed.value == "11010519491231002X"
    assert parsed.birth_date == datetime.date(1949, 12, 31)
    assert parsed.gender == "female"


def test_lower_case_x_and_full_width_digits_are_normalised():
    assert (
        parse_id_number(" １１０１０５１９４９１２３１００２x ").value
        == "11010519491231002X"
    )


def test_a_wrong_check_character_is_refused():
    with pytest.raises(IdentityError) as error:
        parse_id_number("110105194912310021")

    assert error.value.code == "id_checksum"


def test_scientific_notation_from_excel_is_refused_not_guessed():
    with pytest.raises(IdentityError) as error:
        parse_id_number("4.30102E+17")

    assert error.value.code == "id_scientific_notation"


def test_a_truncated_number_is_refused():
    with pytest.raises(IdentityError) as error:
        parse_id_number("1101051949123100")

    assert error.value.code == "id_format"


def test_an_unknown_province_is_refused():
    first17 = "99010519491231002"
    from members.identity import check_character

    with pytest.raises(IdentityError) as error:
        parse_id_number(first17 + check_character(first17))

    assert error.value.code == "id_province"


def test_an_obsolete_address_code_in_a_known_province_is_accepted():
    # 110103 (崇文区) was merged away in 2010 but stays valid on old cards.
    from members.identity import check_character

    first17 = "11010319800101001"
    assert parse_id_number(first17 + check_character(first17)).value.startswith(
        "110103"
    )


def test_an_impossible_birth_date_is_refused():
    from members.identity import check_character

    first17 = "11010519490230002"
    with pytest.raises(IdentityError) as error:
        parse_id_number(first17 + check_character(first17))

    assert error.value.code == "id_birth_date"


def test_legacy_fifteen_digit_numbers_are_converted():
    assert convert_legacy("361027740720249") == "361027197407202494"
    assert parse_id_number("361027740720249").value == "361027197407202494"


def test_birth_date_must_agree_with_the_number():
    parsed = parse_id_number("11010519491231002X")

    with pytest.raises(IdentityError) as error:
        check_consistency(parsed, birth_date=datetime.date(1950, 1, 1), gender=None)

    assert error.value.code == "id_birth_mismatch"


def test_gender_must_agree_with_the_number():
    parsed = parse_id_number("11010519491231002X")

    with pytest.raises(IdentityError) as error:
        check_consistency(parsed, birth_date=None, gender="male")

    assert error.value.code == "id_gender_mismatch"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("010-12345678", "010-12345678"),
        ("0731-8888888", "0731-8888888"),
    ],
)
def test_mainland_phones_are_accepted(raw, expected):
    assert parse_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "23800138000", "1380013800", "abc"])
def test_other_phones_are_refused(raw):
    with pytest.raises(IdentityError) as error:
        parse_phone(raw)

    assert error.value.code == "phone_invalid"


def test_one_mask_for_id_numbers_and_phones():
    assert mask("110105194912311234") == "110***********1234"
    assert mask("13800138000") == "138****8000"
    assert mask("") == ""
