"""The dues rules: every bracket boundary, every category, rounding, policy
versions."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.backends.postgresql.psycopg_any import NumericRange

from dues.models import Category, DuesPolicy, DuesRule
from dues.rules import DuesError, assess, month_start, policy_on, to_fen

MONTH = datetime.date(2026, 3, 1)
WAGE_CATEGORIES = [
    Category.IN_SERVICE,
    Category.ANNUAL_SALARY,
    Category.SELF_EMPLOYED,
    Category.FARMER_WITH_INCOME,
]
WAGE_BOUNDARIES = [
    ("0.01", "0.00"),
    ("100.00", "0.50"),
    ("2999.99", "15.00"),
    ("3000.00", "15.00"),
    ("3000.01", "30.00"),
    ("4999.99", "50.00"),
    ("5000.00", "50.00"),
    ("5000.01", "75.00"),
    ("9999.99", "150.00"),
    ("10000.00", "150.00"),
    ("10000.01", "200.00"),
    ("123456.78", "2469.14"),
]


def amount(category, base, month=MONTH) -> Decimal:
    return assess(category=category, month=month, base=base).amount


@pytest.mark.django_db
@pytest.mark.parametrize("category", WAGE_CATEGORIES)
@pytest.mark.parametrize(("base", "expected"), WAGE_BOUNDARIES)
def test_wage_brackets_apply_one_rate_to_the_whole_base(category, base, expected):
    assert amount(category, Decimal(base)) == Decimal(expected)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("0.01", "0.00"),
        ("4999.99", "25.00"),
        ("5000.00", "25.00"),
        ("5000.01", "50.00"),
        ("8000.00", "80.00"),
    ],
)
def test_retired_brackets(base, expected):
    assert amount(Category.RETIRED, Decimal(base)) == Decimal(expected)


@pytest.mark.django_db
def test_a_product_ending_in_half_a_fen_rounds_half_up():
    # 1,001.00 x 0.5 % = 5.005 and 3,000.50 x 1 % = 30.005.

    assert amount(Category.IN_SERVICE, Decimal("1001.00")) == Decimal("5.01")
    assert amount(Category.IN_SERVICE, Decimal("3000.50")) == Decimal("30.01")
    assert amount(Category.IN_SERVICE, Decimal("5000.30")) == Decimal("75.00")


@pytest.mark.django_db
def test_rounding_follows_the_setting(settings):
    settings.LIUDONG_DUES_ROUNDING = "ROUND_HALF_EVEN"

    assert amount(Category.IN_SERVICE, Decimal("1001.00")) == Decimal("5.00")


@pytest.mark.django_db
def test_the_result_keeps_the_base_policy_and_rule():
    result = assess(category=Category.IN_SERVICE, month=MONTH, base="3000.01")

    assert result.base == Decimal("3000.01")
    assert result.policy.effective_from == datetime.date(2008, 4, 1)
    assert result.rule.rate == Decimal("0.0100")
    assert result.rule.base_range == NumericRange(
        Decimal("3000"), Decimal("5000"), "(]"
    )


@pytest.mark.django_db
def test_bases_are_accepted_as_strings_and_integers():
    assert amount(Category.IN_SERVICE, "3000") == Decimal("15.00")
    assert amount(Category.IN_SERVICE, 10001) == Decimal("200.02")


@pytest.mark.django_db
def test_farmers_pay_the_lowest_amount_unless_the_branch_sets_another():
    default = assess(category=Category.FARMER, month=MONTH)
    chosen = assess(category=Category.FARMER, month=MONTH, fixed_amount="0.50")
    top = assess(category=Category.FARMER, month=MONTH, fixed_amount=Decimal("1.00"))

    assert default.amount == Decimal("0.20")
    assert default.base is None
    assert chosen.amount == Decimal("0.50")
    assert top.amount == Decimal("1.00")


@pytest.mark.django_db
@pytest.mark.parametrize("fixed", ["0.19", "1.01", "-0.20"])
def test_farmers_amount_outside_the_range_is_refused(fixed):
    with pytest.raises(DuesError) as error:
        assess(category=Category.FARMER, month=MONTH, fixed_amount=fixed)

    assert error.value.code == "amount_out_of_range"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "category", [Category.STUDENT, Category.UNEMPLOYED, Category.RELIEF]
)
def test_students_unemployed_and_relief_pay_twenty_fen(category):
    assert assess(category=category, month=MONTH).amount == Decimal("0.20")

    with pytest.raises(DuesError) as error:
        assess(category=category, month=MONTH, fixed_amount="0.30")
    assert error.value.code == "amount_out_of_range"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"category": Category.IN_SERVICE}, "base_required"),
        ({"category": Category.IN_SERVICE, "base": ""}, "base_required"),
        ({"category": Category.IN_SERVICE, "base": "0"}, "base_not_positive"),
        ({"category": Category.RETIRED, "base": "-1.00"}, "base_not_positive"),
        ({"category": Category.IN_SERVICE, "base": "3000.001"}, "base_invalid"),
        ({"category": Category.IN_SERVICE, "base": "lots"}, "base_invalid"),
        ({"category": Category.IN_SERVICE, "base": "NaN"}, "base_invalid"),
        ({"category": Category.IN_SERVICE, "base": "1e3"}, "base_invalid"),
        ({"category": Category.IN_SERVICE, "base": "3,000"}, "base_invalid"),
        (
            {"category": Category.IN_SERVICE, "base": "3000", "fixed_amount": "1"},
            "fixed_not_applicable",
        ),
        ({"category": Category.STUDENT, "base": "3000"}, "base_not_applicable"),
        ({"category": Category.FARMER, "fixed_amount": "0.5x"}, "amount_invalid"),
        ({"category": "pensioner", "base": "3000"}, "unknown_category"),
    ],
)
def test_bad_input_is_refused_with_a_stable_code(kwargs, code):
    with pytest.raises(DuesError) as error:
        assess(month=MONTH, **kwargs)

    assert error.value.code == code
    assert isinstance(error.value, ValidationError)


@pytest.mark.django_db
def test_a_float_base_is_a_programming_error():
    with pytest.raises(TypeError):
        assess(category=Category.IN_SERVICE, month=MONTH, base=3000.0)


@pytest.mark.django_db
def test_no_policy_before_2008():
    with pytest.raises(DuesError) as error:
        assess(category=Category.STUDENT, month=datetime.date(2008, 3, 1))

    assert error.value.code == "no_policy"
    assert policy_on(datetime.date(2008, 4, 30)).effective_from == datetime.date(
        2008, 4, 1
    )


def _provincial_policy(effective_from=datetime.date(2026, 7, 1)) -> DuesPolicy:
    policy = DuesPolicy.objects.create(
        name="省委党费规定", issued_by="某省委组织部", effective_from=effective_from
    )
    DuesRule.objects.create(
        policy=policy,
        category=Category.IN_SERVICE,
        base_range=NumericRange(Decimal("0"), Decimal("4000"), "(]"),
        rate=Decimal("0.0040"),
    )
    DuesRule.objects.create(
        policy=policy,
        category=Category.IN_SERVICE,
        base_range=NumericRange(Decimal("4000"), None, "(]"),
        rate=Decimal("0.0120"),
    )
    DuesRule.objects.create(
        policy=policy,
        category=Category.STUDENT,
        fixed_minimum=Decimal("0.50"),
        fixed_maximum=Decimal("0.50"),
    )
    return policy


@pytest.mark.django_db
def test_a_later_policy_applies_from_its_effective_month_and_not_before():
    policy = _provincial_policy()

    before = assess(
        category=Category.IN_SERVICE, month=datetime.date(2026, 6, 1), base="4000"
    )
    after = assess(
        category=Category.IN_SERVICE, month=datetime.date(2026, 7, 1), base="4000"
    )
    above = assess(
        category=Category.IN_SERVICE, month=datetime.date(2026, 7, 1), base="4000.01"
    )
    student = assess(category=Category.STUDENT, month=datetime.date(2026, 8, 1))

    assert before.amount == Decimal("40.00")
    assert before.policy.effective_from == datetime.date(2008, 4, 1)
    assert after.amount == Decimal("16.00")
    assert after.policy == policy
    assert above.amount == Decimal("48.00")
    assert student.amount == Decimal("0.50")


@pytest.mark.django_db
def test_a_policy_effective_mid_month_applies_from_the_next_month():
    _provincial_policy(effective_from=datetime.date(2026, 7, 15))

    july = policy_on(datetime.date(2026, 7, 20))
    august = policy_on(datetime.date(2026, 8, 1))

    assert july.effective_from == datetime.date(2008, 4, 1)
    assert august.effective_from == datetime.date(2026, 7, 15)


@pytest.mark.django_db
def test_a_category_the_policy_in_force_does_not_cover_has_no_rule():
    _provincial_policy()

    with pytest.raises(DuesError) as error:
        assess(category=Category.RETIRED, month=datetime.date(2026, 7, 1), base="1")

    assert error.value.code == "no_rule"


def test_to_fen_and_month_start():
    assert to_fen(Decimal("14.99995")) == Decimal("15.00")
    assert to_fen(Decimal("0.005")) == Decimal("0.01")
    assert to_fen(Decimal("-0.005")) == Decimal("-0.01")
    assert month_start(datetime.date(2028, 2, 29)) == datetime.date(2028, 2, 1)
