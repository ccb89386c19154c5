"""Reads of dues: the member's statement, ledgers, arrears, paid-through."""

import datetime
from decimal import Decimal

import pytest
from psycopg2.extras import DateRange

from dues.models import LedgerEntry, Reduction
from dues.selectors import (
    Totals,
    arrears,
    ledger_entries,
    member_statement,
    organization_ledger,
    organization_ledger_months,
    paid_through,
)
from dues.services.ledger import generate_ledger
from members.models import MembershipPeriod
from organizations.scope import OutOfScope, scope_for
from tests import factories
from tests.dues.arrange import make_assessment
from tests.dues.test_ledger import entry, mark_paid

D = datetime.date
Status = LedgerEntry.Status


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def secretary_of_c(branch_c):
    user = factories.make_user("sec_c", is_staff=True)
    factories.make_role(user, branch_c, "secretary")
    return user


def pay(member, month, *, voluntary="0", collected_by=None) -> LedgerEntry:
    paid = mark_paid(entry(member, month))
    paid.voluntary_amount = Decimal(voluntary)
    paid.collected_by = collected_by
    paid.save()
    return paid


def waive(member, month) -> None:
    LedgerEntry.objects.filter(member=member, month=month).update(
        status=Status.WAIVED, amount_due=Decimal("0.00")
    )


@pytest.fixture
def books(member, member_of_b, branch_a, branch_b):
    """Two members a quarter each, with amounts that do not round evenly."""
    make_assessment(member, branch_a, amount="12.34")
    make_assessment(member_of_b, branch_b, amount="0.20")
    generate_ledger(through=D(2026, 3, 1))
    pay(member, D(2026, 1, 1), voluntary="7.77")
    pay(member_of_b, D(2026, 2, 1))
    return member, member_of_b


def sum_rows(entries) -> Totals:
    live = [e for e in entries if e.status != Status.CANCELLED]
    return Totals(
        due=sum((e.amount_due or 0 for e in live), Decimal("0.00")),
        paid=sum((e.paid_amount for e in live), Decimal("0.00")),
        voluntary=sum((e.voluntary_amount for e in live), Decimal("0.00")),
        outstanding=sum(
            (
                e.amount_due - e.paid_amount
                for e in live
                if e.status == Status.DUE and e.amount_due is not None
            ),
            Decimal("0.00"),
        ),
        months=len(live),
        open_months=sum(e.status == Status.DUE for e in live),
        paid_months=sum(e.status == Status.PAID for e in live),
        waived_months=sum(e.status == Status.WAIVED for e in live),
        unassessed_months=sum(e.amount_due is None for e in live),
    )


# The member's statement


def test_the_statement_separates_arrears_this_month_and_months_ahead(
    member, branch_a, settings
):
    settings.LIUDONG_DUES_MAX_AHEAD_MONTHS = 2
    make_assessment(member, branch_a, amount="15.00")
    generate_ledger(through=D(2026, 8, 1))
    pay(member, D(2026, 1, 1))

    statement = member_statement(member, today=D(2026, 4, 15))

    assert statement.current_month == D(2026, 4, 1)
    assert [e.month.month for e in statement.arrears] == [2, 3]
    assert statement.current.month == D(2026, 4, 1)
    assert [e.month.month for e in statement.ahead] == [5, 6]
    assert [e.month.month for e in statement.paid] == [1]
    assert statement.arrears_amount == Decimal("30.00")
    assert statement.current_amount == Decimal("15.00")
    assert statement.total_due == Decimal("45.00")
    assert statement.last_paid_month == D(2026, 1, 1)


def test_a_paid_current_month_owes_nothing_now(member, branch_a):
    make_assessment(member, branch_a, amount="15.00")
    generate_ledger(through=D(2026, 4, 1))
    pay(member, D(2026, 4, 1))

    statement = member_statement(member, today=D(2026, 4, 1))

    assert statement.current.status == Status.PAID
    assert statement.current_amount == Decimal("0.00")
    assert statement.total_due == Decimal("45.00")
    # January to March are unpaid: dues are not paid "through" April.
    assert statement.last_paid_month is None


def test_paid_through_ends_at_the_first_unpaid_month(member, branch_a):
    make_assessment(member, branch_a, amount="15.00")
    generate_ledger(through=D(2026, 4, 1))
    for month in (1, 2, 4):
        pay(member, D(2026, month, 1))

    statement = member_statement(member, today=D(2026, 4, 1))

    assert statement.last_paid_month == D(2026, 2, 1)


def test_unassessed_months_are_listed_without_an_amount(member):
    generate_ledger(through=D(2026, 3, 1))

    statement = member_statement(member, today=D(2026, 3, 2))

    assert [e.amount_due for e in statement.arrears] == [None, None]
    assert statement.total_due == Decimal("0.00")


def test_a_cancelled_month_is_not_on_the_statement(member):
    generate_ledger(through=D(2026, 3, 1))
    MembershipPeriod.objects.filter(member=member).update(
        period=DateRange(D(2015, 1, 1), D(2026, 2, 2))
    )
    generate_ledger(through=D(2026, 3, 1))

    statement = member_statement(member, today=D(2026, 3, 2))

    assert [e.month.month for e in statement.arrears] == [1, 2]
    assert statement.current is None


# Ledger entries and scope


def test_a_secretary_reads_only_the_branch_s_months(books, secretary_of_a):
    member, _other = books

    entries = ledger_entries(scope=scope_for(secretary_of_a))

    assert {e.member_id for e in entries} == {member.pk}
    assert entries.count() == 3


def test_another_branch_s_ledger_is_out_of_scope(books, secretary_of_b, branch_a):
    with pytest.raises(OutOfScope):
        ledger_entries(scope=scope_for(secretary_of_b), organization=branch_a)
    with pytest.raises(OutOfScope):
        organization_ledger(
            scope=scope_for(secretary_of_b), organization=branch_a, month=D(2026, 1, 1)
        )
    with pytest.raises(OutOfScope):
        organization_ledger_months(
            scope=scope_for(secretary_of_b), organization=branch_a, year=2026
        )
    with pytest.raises(OutOfScope):
        arrears(scope=scope_for(secretary_of_b), organization=branch_a)


@pytest.mark.parametrize(
    ("actor", "visible"),
    [
        ("committee_staff", 6),
        ("provincial_viewer", 6),
        ("provincial_viewer_other", 0),
        ("outsider", 0),
        ("member_user", 0),
        ("operator", 6),
    ],
)
def test_ledger_entries_follow_the_scope(request, books, actor, visible):
    scope = scope_for(request.getfixturevalue(actor))

    assert ledger_entries(scope=scope).count() == visible


def test_ledger_entries_filter_by_month_and_status(books, committee_staff, branch_b):
    scope = scope_for(committee_staff)

    february = ledger_entries(scope=scope, month=D(2026, 2, 14))
    paid = ledger_entries(scope=scope, status=Status.PAID)
    of_b = ledger_entries(scope=scope, organization=branch_b)

    assert february.count() == 2
    assert {e.month for e in paid} == {D(2026, 1, 1), D(2026, 2, 1)}
    assert {e.organization_id for e in of_b} == {branch_b.pk}


def test_cancelled_months_are_read_only_when_asked_for(member, secretary_of_a):
    generate_ledger(through=D(2026, 2, 1))
    MembershipPeriod.objects.filter(member=member).update(
        period=DateRange(D(2015, 1, 1), D(2026, 2, 1))
    )
    generate_ledger(through=D(2026, 2, 1))
    scope = scope_for(secretary_of_a)

    assert ledger_entries(scope=scope).count() == 1
    assert ledger_entries(scope=scope, status=Status.CANCELLED).count() == 1


def test_the_inflow_organisation_sees_only_the_months_it_collected(
    books, branch_c, secretary_of_c
):
    member, _other = books
    collected = pay(member, D(2026, 3, 1), collected_by=branch_c)

    seen = ledger_entries(scope=scope_for(secretary_of_c))
    summary = organization_ledger(
        scope=scope_for(secretary_of_c), organization=branch_c, month=D(2026, 3, 1)
    )

    assert list(seen) == [collected]
    assert summary.entries == []
    assert summary.totals == Totals()
    assert summary.collected_for_others == [collected]
    assert summary.collected_for_others_amount == Decimal("12.34")


def test_a_month_collected_elsewhere_stays_on_the_holding_branch_s_ledger(
    books, branch_a, branch_c, secretary_of_a
):
    member, _other = books
    pay(member, D(2026, 3, 1), collected_by=branch_c)

    summary = organization_ledger(
        scope=scope_for(secretary_of_a), organization=branch_a, month=D(2026, 3, 1)
    )

    assert [e.collected_by for e in summary.entries] == [branch_c]
    assert summary.totals.paid == Decimal("12.34")
    assert summary.collected_for_others == []


# Organisation ledgers add up to the fen


def test_a_month_s_totals_add_up_to_its_rows(books, committee_staff, city_committee):
    summary = organization_ledger(
        scope=scope_for(committee_staff),
        organization=city_committee,
        month=D(2026, 1, 1),
    )

    assert summary.totals == sum_rows(summary.entries)
    assert summary.totals == Totals(
        due=Decimal("12.54"),
        paid=Decimal("12.34"),
        voluntary=Decimal("7.77"),
        outstanding=Decimal("0.20"),
        months=2,
        open_months=1,
        paid_months=1,
    )
    assert [(o.name, o.totals.due) for o in summary.by_organization] == [
        ("第一支部", Decimal("12.34")),
        ("第二支部", Decimal("0.20")),
    ]


def test_each_organisation_s_totals_add_up_to_its_rows(
    books, committee_staff, city_committee
):
    summary = organization_ledger(
        scope=scope_for(committee_staff),
        organization=city_committee,
        month=D(2026, 2, 1),
    )

    for group in summary.by_organization:
        rows = [
            e for e in summary.entries if e.organization_id == group.organization_id
        ]
        assert group.totals == sum_rows(rows)
    assert sum((g.totals.outstanding for g in summary.by_organization), Decimal(0)) == (
        summary.totals.outstanding
    )


def test_waived_and_unassessed_months_are_counted(
    member, branch_b, secretary_of_a, branch_a
):
    newcomer = factories.make_member(branch_a, since=D(2026, 1, 20))
    make_assessment(member, branch_a, amount="30.01")
    generate_ledger(through=D(2026, 1, 1))
    waive(member, D(2026, 1, 1))

    summary = organization_ledger(
        scope=scope_for(secretary_of_a), organization=branch_a, month=D(2026, 1, 1)
    )

    assert summary.totals == Totals(
        months=2, open_months=1, waived_months=1, unassessed_months=1
    )
    assert summary.totals == sum_rows(summary.entries)
    assert {e.member_id for e in summary.entries} == {member.pk, newcomer.pk}


def test_the_year_has_twelve_months_and_each_adds_up(
    books, committee_staff, city_committee
):
    scope = scope_for(committee_staff)

    year = organization_ledger_months(
        scope=scope, organization=city_committee, year=2026
    )

    assert [m.month for m in year] == [D(2026, n, 1) for n in range(1, 13)]
    for month in year:
        rows = ledger_entries(
            scope=scope, organization=city_committee, month=month.month
        )
        assert month.totals == sum_rows(rows)
    assert year[3].totals == Totals()
    assert sum((m.totals.due for m in year), Decimal(0)) == Decimal("37.62")


# Arrears


def _quarterly(member, organization, amount="15.00"):
    make_assessment(member, organization, amount=amount)


def test_arrears_count_months_since_and_amount_before_this_month(
    books, secretary_of_a, branch_a
):
    member, _other = books

    rows = arrears(
        scope=scope_for(secretary_of_a), organization=branch_a, today=D(2026, 3, 9)
    )

    assert [(r.member, r.months, r.since, r.amount) for r in rows] == [
        (member, 1, D(2026, 2, 1), Decimal("12.34"))
    ]
    assert rows[0].six_months_unpaid is False


def test_six_consecutive_unpaid_months_are_flagged(member, branch_a, secretary_of_a):
    make_assessment(member, branch_a, amount="15.00")
    generate_ledger(through=D(2026, 8, 1))

    on_time = arrears(
        scope=scope_for(secretary_of_a), organization=branch_a, today=D(2026, 6, 30)
    )
    late = arrears(
        scope=scope_for(secretary_of_a), organization=branch_a, today=D(2026, 7, 1)
    )

    assert (on_time[0].months, on_time[0].six_months_unpaid) == (5, False)
    assert (late[0].months, late[0].amount, late[0].six_months_unpaid) == (
        6,
        Decimal("90.00"),
        True,
    )


def test_a_paid_or_waived_month_breaks_the_run(member, branch_a, secretary_of_a):
    make_assessment(member, branch_a, amount="15.00")
    generate_ledger(through=D(2026, 12, 1))
    pay(member, D(2026, 4, 1))
    waive(member, D(2026, 9, 1))

    rows = arrears(
        scope=scope_for(secretary_of_a), organization=branch_a, today=D(2026, 12, 1)
    )

    assert (rows[0].months, rows[0].since, rows[0].six_months_unpaid) == (
        9,
        D(2026, 1, 1),
        False,
    )


def test_the_run_counts_months_owed_before_a_transfer(
    member, branch_a, branch_b, secretary_of_b
):
    MembershipPeriod.objects.filter(member=member).update(
        period=DateRange(D(2015, 1, 1), D(2026, 4, 1))
    )
    MembershipPeriod.objects.create(
        member=member, organization=branch_b, period=DateRange(D(2026, 4, 1), None)
    )
    generate_ledger(through=D(2026, 6, 1))

    rows = arrears(
        scope=scope_for(secretary_of_b), organization=branch_b, today=D(2026, 7, 1)
    )

    assert (rows[0].months, rows[0].since, rows[0].six_months_unpaid) == (
        3,
        D(2026, 4, 1),
        True,
    )


def test_members_with_no_arrears_are_not_listed(member, branch_a, secretary_of_a):
    make_assessment(member, branch_a)
    generate_ledger(through=D(2026, 1, 1))
    pay(member, D(2026, 1, 1))

    assert (
        arrears(
            scope=scope_for(secretary_of_a), organization=branch_a, today=D(2026, 5, 1)
        )
        == []
    )


# Paid through


def test_paid_through_is_the_end_of_the_first_unbroken_settled_run(member, branch_a):
    make_assessment(member, branch_a)
    generate_ledger(through=D(2026, 6, 1))
    pay(member, D(2026, 1, 1))
    waive(member, D(2026, 2, 1))
    pay(member, D(2026, 3, 1))
    pay(member, D(2026, 5, 1))

    assert paid_through(member) == D(2026, 3, 1)


def test_paid_through_is_none_when_the_first_month_is_unpaid(member, branch_a):
    make_assessment(member, branch_a)
    generate_ledger(through=D(2026, 3, 1))
    pay(member, D(2026, 2, 1))

    assert paid_through(member) is None


def test_paid_through_with_everything_paid_is_the_last_month(member, branch_a):
    make_assessment(member, branch_a)
    generate_ledger(through=D(2026, 2, 1))
    pay(member, D(2026, 1, 1))
    pay(member, D(2026, 2, 1))

    assert paid_through(member) == D(2026, 2, 1)


def test_paid_through_without_a_ledger_is_none(member):
    assert paid_through(member) is None


def test_paid_through_skips_months_not_owed(member, branch_a):
    # Away from the rolls in March; the run continues across the gap.
    MembershipPeriod.objects.filter(member=member).update(
        period=DateRange(D(2015, 1, 1), D(2026, 3, 1))
    )
    MembershipPeriod.objects.create(
        member=member, organization=branch_a, period=DateRange(D(2026, 4, 1), None)
    )
    make_assessment(member, branch_a)
    generate_ledger(through=D(2026, 5, 1))
    for month in (1, 2, 4):
        pay(member, D(2026, month, 1))

    assert paid_through(member) == D(2026, 4, 1)


def test_reductions_in_statement_totals(member, branch_a, secretary_of_a):
    make_assessment(member, branch_a, amount="15.00")
    Reduction.objects.create(
        member=member,
        organization=branch_a,
        first_month=D(2026, 2, 1),
        last_month=D(2026, 2, 1),
        monthly_amount=Decimal("3.33"),
        reason="困难",
        branch_decided_on=D(2026, 1, 1),
        status=Reduction.Status.APPROVED,
    )
    generate_ledger(through=D(2026, 3, 1))

    statement = member_statement(member, today=D(2026, 3, 1))

    assert statement.arrears_amount == Decimal("18.33")
