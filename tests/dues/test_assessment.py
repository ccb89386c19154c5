"""Recording assessments and reductions: amounts, re-pricing, scope, audit."""

import datetime
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from dues.models import Assessment, Category, LedgerEntry, Reduction
from dues.rules import DuesError
from dues.services.assessment import (
    decide_reduction,
    record_assessment,
    request_reduction,
)
from dues.services.ledger import generate_ledger
from members.models import AuditEvent
from organizations.scope import OutOfScope, ReadOnlyScope
from tests import factories
from tests.dues.test_ledger import entry, ledger, mark_paid

D = datetime.date
Status = LedgerEntry.Status


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def record(actor, member, **kw) -> Assessment:
    kw.setdefault("category", Category.IN_SERVICE)
    kw.setdefault("applies_from", D(2026, 1, 1))
    return record_assessment(actor=actor, member=member, **kw)


def amounts(member) -> list:
    return [
        (month.month, amount, status) for month, _o, amount, status in ledger(member)
    ]


def actions(member) -> list[str]:
    return list(
        AuditEvent.objects.filter(member=member)
        .order_by("pk")
        .values_list("action", flat=True)
    )


# Assessments


def test_a_secretary_records_an_assessment_with_its_base_and_rule(
    member, secretary_of_a, branch_a
):
    assessment = record(secretary_of_a, member, base="3000.01", note=" 年度核定 ")

    assessment.refresh_from_db()
    assert assessment.monthly_amount == Decimal("30.00")
    assert assessment.base == "3000.01"
    assert assessment.rule.rate == Decimal("0.0100")
    assert assessment.policy.effective_from == D(2008, 4, 1)
    assert assessment.organization == branch_a
    assert assessment.recorded_by == secretary_of_a
    assert assessment.source == Assessment.Source.SECRETARY
    assert assessment.note == "年度核定"


def test_the_base_is_stored_encrypted_and_kept_out_of_the_audit(member, secretary_of_a):
    assessment = record(secretary_of_a, member, base="8765.43")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT base FROM dues_assessment WHERE id = %s", [assessment.pk]
        )
        stored = cursor.fetchone()[0]
    event = AuditEvent.objects.get(member=member)
    assert "8765" not in stored
    assert event.action == "dues.assessment.recorded"
    assert event.actor == secretary_of_a
    assert "8765" not in str(event.details)
    assert "131.48" not in str(event.details)
    assert event.details["assessment_id"] == assessment.pk


def test_an_assessment_applies_from_the_first_of_its_month(member, secretary_of_a):
    assessment = record(
        secretary_of_a, member, base="3000", applies_from=D(2026, 4, 17)
    )

    assert assessment.applies_from == D(2026, 4, 1)


def test_recording_reprices_unpaid_months_from_its_month_on(member, secretary_of_a):
    record(secretary_of_a, member, base="3000.00")
    generate_ledger(through=D(2026, 5, 1))
    mark_paid(entry(member, D(2026, 4, 1)))

    record(secretary_of_a, member, base="6000.00", applies_from=D(2026, 3, 1))

    assert amounts(member) == [
        (1, Decimal("15.00"), Status.DUE),
        (2, Decimal("15.00"), Status.DUE),
        (3, Decimal("90.00"), Status.DUE),
        (4, Decimal("15.00"), Status.PAID),
        (5, Decimal("90.00"), Status.DUE),
    ]
    assert (
        AuditEvent.objects.filter(member=member).latest("pk").details["repriced"] == 2
    )


def test_recording_the_same_month_again_replaces_the_row(member, secretary_of_a):
    first = record(secretary_of_a, member, base="3000.00")
    generate_ledger(through=D(2026, 2, 1))

    second = record(secretary_of_a, member, base="3000.01")

    assert second.pk == first.pk
    assert Assessment.objects.filter(member=member).count() == 1
    assert second.monthly_amount == Decimal("30.00")
    assert amounts(member) == [
        (1, Decimal("30.00"), Status.DUE),
        (2, Decimal("30.00"), Status.DUE),
    ]
    assert actions(member) == ["dues.assessment.recorded", "dues.assessment.replaced"]


def test_annual_salary_is_assessed_on_each_month_s_pay(member, secretary_of_a):
    record(secretary_of_a, member, category=Category.ANNUAL_SALARY, base="20000.00")
    record(
        secretary_of_a,
        member,
        category=Category.ANNUAL_SALARY,
        base="4000.00",
        applies_from=D(2026, 2, 1),
    )

    generate_ledger(through=D(2026, 3, 1))

    assert amounts(member) == [
        (1, Decimal("400.00"), Status.DUE),
        (2, Decimal("40.00"), Status.DUE),
        (3, Decimal("40.00"), Status.DUE),
    ]


@pytest.mark.parametrize(
    ("incomes", "base", "amount"),
    [
        (["3000.00", "3000.01", "3000.02"], "3000.01", "30.00"),
        (["1000.00", "1000.00", "1000.01"], "1000.00", "5.00"),
        (["9000.00", "12000.00", "9000.00"], "10000.00", "150.00"),
        (["-2000.00", "8000.00", "9000.03"], "5000.01", "75.00"),
    ],
)
def test_the_self_employed_base_is_the_quarter_s_average_to_the_fen(
    member, secretary_of_a, incomes, base, amount
):
    assessment = record(
        secretary_of_a,
        member,
        category=Category.SELF_EMPLOYED,
        quarter_incomes=incomes,
    )

    assert assessment.base == base
    assert assessment.monthly_amount == Decimal(amount)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        (
            {"category": Category.SELF_EMPLOYED, "quarter_incomes": ["1", "2"]},
            "quarter_incomes_count",
        ),
        (
            {"category": Category.SELF_EMPLOYED, "quarter_incomes": ["1", "2", ""]},
            "quarter_incomes_count",
        ),
        (
            {
                "category": Category.SELF_EMPLOYED,
                "quarter_incomes": ["1", "2", "3.001"],
            },
            "income_invalid",
        ),
        (
            {
                "category": Category.SELF_EMPLOYED,
                "quarter_incomes": ["1", "2", "3"],
                "base": "2",
            },
            "base_and_quarter",
        ),
        (
            {"category": Category.IN_SERVICE, "quarter_incomes": ["1", "2", "3"]},
            "quarter_not_applicable",
        ),
        ({"category": Category.IN_SERVICE}, "base_required"),
        ({"category": Category.FARMER, "fixed_amount": "1.01"}, "amount_out_of_range"),
    ],
)
def test_bad_input_writes_nothing(member, secretary_of_a, kw, code):
    with pytest.raises(DuesError) as error:
        record(secretary_of_a, member, **kw)

    assert error.value.code == code
    assert not Assessment.objects.exists()
    assert actions(member) == []


def test_an_unknown_source_is_refused(member, secretary_of_a):
    with pytest.raises(ValidationError):
        record(secretary_of_a, member, base="3000", source="guess")

    assert not Assessment.objects.exists()


def test_a_start_more_than_a_year_ahead_is_refused(member, secretary_of_a):
    far = timezone.localdate().replace(day=1) + relativedelta(months=13)

    with pytest.raises(ValidationError) as error:
        record(secretary_of_a, member, base="3000", applies_from=far)

    assert error.value.error_dict["applies_from"][0].code == "applies_from_too_far"
    assert not Assessment.objects.exists()
    assert actions(member) == []


def test_a_start_a_year_ahead_is_accepted(member, secretary_of_a):
    ahead = timezone.localdate().replace(day=1) + relativedelta(months=12)

    assessment = record(secretary_of_a, member, base="3000", applies_from=ahead)

    assert assessment.applies_from == ahead


def test_an_import_is_recorded_as_such(member, secretary_of_a):
    assessment = record(
        secretary_of_a, member, category=Category.FARMER, source="import"
    )

    assert assessment.source == Assessment.Source.IMPORT
    assert assessment.monthly_amount == Decimal("0.20")
    assert assessment.base == ""


def test_the_city_committee_may_record_for_a_branch_below_it(member, committee_staff):
    assert record(committee_staff, member, base="100").monthly_amount == Decimal("0.50")


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("secretary_of_b", OutOfScope),
        ("provincial_viewer_other", OutOfScope),
        ("outsider", OutOfScope),
        ("member_user", OutOfScope),
        ("provincial_viewer", ReadOnlyScope),
    ],
)
def test_only_a_writer_over_the_holding_branch_records(request, member, actor, error):
    user = request.getfixturevalue(actor)

    with pytest.raises(error):
        record(user, member, base="3000")

    assert not Assessment.objects.exists()


# Reductions


def ask(actor, member, **kw) -> Reduction:
    kw.setdefault("first_month", D(2026, 2, 1))
    kw.setdefault("last_month", D(2026, 3, 1))
    kw.setdefault("monthly_amount", "0")
    kw.setdefault("reason", "长期病休，无收入")
    kw.setdefault("branch_decided_on", D(2026, 1, 20))
    return request_reduction(actor=actor, member=member, **kw)


def test_the_branch_records_its_decision_pending_approval(
    member, secretary_of_a, branch_a
):
    reduction = ask(
        secretary_of_a,
        member,
        first_month=D(2026, 2, 14),
        monthly_amount="5.00",
        decision_reference=" 支委会2026-3 ",
    )

    assert reduction.status == Reduction.Status.PENDING
    assert reduction.organization == branch_a
    assert reduction.first_month == D(2026, 2, 1)
    assert reduction.monthly_amount == Decimal("5.00")
    assert reduction.decision_reference == "支委会2026-3"
    assert reduction.requested_by == secretary_of_a
    assert actions(member) == ["dues.reduction.requested"]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"last_month": D(2026, 1, 1)}, "last_month"),
        ({"reason": "  "}, "reason"),
        ({"branch_decided_on": D(2099, 1, 1)}, "branch_decided_on"),
    ],
)
def test_a_reduction_with_bad_input_is_refused(member, secretary_of_a, kw, field):
    with pytest.raises(ValidationError) as error:
        ask(secretary_of_a, member, **kw)

    assert field in error.value.message_dict
    assert not Reduction.objects.exists()


@pytest.mark.parametrize("amount", ["-1", "abc", "0.001"])
def test_a_reduction_needs_an_amount_of_zero_or_more(member, secretary_of_a, amount):
    with pytest.raises(DuesError):
        ask(secretary_of_a, member, monthly_amount=amount)

    assert not Reduction.objects.exists()


def test_overlapping_reductions_are_refused(member, secretary_of_a):
    ask(secretary_of_a, member)

    with pytest.raises(ValidationError) as error:
        ask(secretary_of_a, member, first_month=D(2026, 3, 1), last_month=D(2026, 5, 1))

    assert error.value.code == "reduction_overlaps"
    assert Reduction.objects.count() == 1


def test_a_rejected_reduction_does_not_block_a_new_one(
    member, secretary_of_a, committee_staff
):
    decide_reduction(
        actor=committee_staff,
        reduction=ask(secretary_of_a, member),
        approve=False,
        note="证明不足",
    )

    assert ask(secretary_of_a, member).status == Reduction.Status.PENDING


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("secretary_of_b", OutOfScope),
        ("outsider", OutOfScope),
        ("provincial_viewer", ReadOnlyScope),
    ],
)
def test_only_a_writer_over_the_branch_records_a_reduction(
    request, member, actor, error
):
    with pytest.raises(error):
        ask(request.getfixturevalue(actor), member)

    assert not Reduction.objects.exists()


def _priced_ledger(member, secretary):
    record(secretary, member, base="3000.00")
    generate_ledger(through=D(2026, 4, 1))


def test_the_higher_committee_approves_and_the_months_are_repriced(
    member, secretary_of_a, committee_staff
):
    _priced_ledger(member, secretary_of_a)
    reduction = ask(secretary_of_a, member, monthly_amount="5.00")

    decided = decide_reduction(
        actor=committee_staff, reduction=reduction, approve=True, note="同意"
    )

    assert decided.status == Reduction.Status.APPROVED
    assert decided.decided_by == committee_staff
    assert decided.decided_at is not None
    assert decided.decision_note == "同意"
    assert amounts(member) == [
        (1, Decimal("15.00"), Status.DUE),
        (2, Decimal("5.00"), Status.DUE),
        (3, Decimal("5.00"), Status.DUE),
        (4, Decimal("15.00"), Status.DUE),
    ]
    assert entry(member, D(2026, 2, 1)).reduction == decided
    assert actions(member)[-1] == "dues.reduction.approved"


def test_a_reduction_to_nothing_waives_unpaid_months_and_leaves_paid_ones(
    member, secretary_of_a, committee_staff
):
    _priced_ledger(member, secretary_of_a)
    mark_paid(entry(member, D(2026, 2, 1)))

    decide_reduction(
        actor=committee_staff, reduction=ask(secretary_of_a, member), approve=True
    )

    assert amounts(member) == [
        (1, Decimal("15.00"), Status.DUE),
        (2, Decimal("15.00"), Status.PAID),
        (3, Decimal("0.00"), Status.WAIVED),
        (4, Decimal("15.00"), Status.DUE),
    ]


def test_the_approved_reduction_also_prices_months_generated_later(
    member, secretary_of_a, committee_staff
):
    record(secretary_of_a, member, base="3000.00")
    decide_reduction(
        actor=committee_staff, reduction=ask(secretary_of_a, member), approve=True
    )

    generate_ledger(through=D(2026, 3, 1))

    assert [s for _m, _a, s in amounts(member)] == [
        Status.DUE,
        Status.WAIVED,
        Status.WAIVED,
    ]


def test_a_rejection_needs_a_reason_and_changes_no_month(
    member, secretary_of_a, committee_staff
):
    _priced_ledger(member, secretary_of_a)
    reduction = ask(secretary_of_a, member)

    with pytest.raises(ValidationError):
        decide_reduction(actor=committee_staff, reduction=reduction, approve=False)
    rejected = decide_reduction(
        actor=committee_staff, reduction=reduction, approve=False, note="无证明"
    )

    assert rejected.status == Reduction.Status.REJECTED
    assert {a for _m, a, _s in amounts(member)} == {Decimal("15.00")}
    assert actions(member)[-1] == "dues.reduction.rejected"


def test_a_decided_reduction_cannot_be_decided_again(
    member, secretary_of_a, committee_staff
):
    reduction = ask(secretary_of_a, member)
    decide_reduction(actor=committee_staff, reduction=reduction, approve=True)

    with pytest.raises(ValidationError) as error:
        decide_reduction(
            actor=committee_staff, reduction=reduction, approve=False, note="x"
        )

    assert error.value.code == "already_decided"
    reduction.refresh_from_db()
    assert reduction.status == Reduction.Status.APPROVED


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("secretary_of_a", PermissionDenied),
        ("secretary_of_b", OutOfScope),
        ("provincial_viewer_other", OutOfScope),
        ("outsider", OutOfScope),
        ("provincial_viewer", ReadOnlyScope),
    ],
)
def test_only_a_role_above_the_deciding_branch_decides(
    request, member, secretary_of_a, actor, error
):
    reduction = ask(secretary_of_a, member)
    user = request.getfixturevalue(actor)

    with pytest.raises(error):
        decide_reduction(actor=user, reduction=reduction, approve=True)

    reduction.refresh_from_db()
    assert reduction.status == Reduction.Status.PENDING


def test_the_branch_secretary_decides_when_also_on_the_committee(
    member, secretary_of_a, city_committee
):
    factories.make_role(secretary_of_a, city_committee, "committee_staff")

    decided = decide_reduction(
        actor=secretary_of_a, reduction=ask(secretary_of_a, member), approve=True
    )

    assert decided.status == Reduction.Status.APPROVED


def test_a_committee_member_does_not_decide_their_own_reduction(
    member, member_user, secretary_of_a, city_committee
):
    factories.make_role(member_user, city_committee, "committee_staff")

    with pytest.raises(PermissionDenied):
        decide_reduction(
            actor=member_user, reduction=ask(secretary_of_a, member), approve=True
        )


def test_an_operator_may_decide(member, secretary_of_a, operator):
    decided = decide_reduction(
        actor=operator, reduction=ask(secretary_of_a, member), approve=True
    )

    assert decided.status == Reduction.Status.APPROVED
