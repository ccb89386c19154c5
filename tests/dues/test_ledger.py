"""Generating the ledger: which months, to which organisation, at what price,
and what a regeneration changes."""

import datetime
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.utils import timezone
from psycopg2.extras import DateRange

from dues.models import LedgerEntry, PaymentOrder, Reduction
from dues.services.ledger import LedgerResult, generate_ledger
from members.crypto import blind_index
from members.models import Member, MembershipPeriod
from members.services import member_create
from organizations import services as transfers
from tests import factories
from tests.dues.arrange import make_assessment

D = datetime.date
Status = LedgerEntry.Status


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


JOINED = D(2010, 7, 1)


def held(organization, *periods, joined_on=JOINED, **kw) -> Member:
    """A member held by ``organization`` over ``periods`` of (start, end).

    Further periods at other organisations are given as (org, start, end).
    """
    (start, end), *others = periods
    member = factories.make_member(organization, since=start, joined_on=joined_on, **kw)
    if end is not None:
        MembershipPeriod.objects.filter(member=member).update(
            period=DateRange(start, end)
        )
    for other, other_start, other_end in others:
        MembershipPeriod.objects.create(
            member=member, organization=other, period=DateRange(other_start, other_end)
        )
    return member


def move(member, to_organization, day) -> None:
    """End the open period before ``day``; ``to_organization`` holds next."""
    current = MembershipPeriod.objects.get(member=member, period__upper_inf=True)
    current.period = DateRange(current.period.lower, day)
    current.save()
    if to_organization is not None:
        MembershipPeriod.objects.create(
            member=member, organization=to_organization, period=DateRange(day, None)
        )


def ledger(member) -> list[tuple]:
    entries = LedgerEntry.objects.filter(member=member).exclude(status=Status.CANCELLED)
    return [
        (e.month, e.organization.code, e.amount_due, e.status)
        for e in entries.select_related("organization").order_by("month")
    ]


def months(member) -> list[tuple]:
    return [(month, code) for month, code, _amount, _status in ledger(member)]


def mark_paid(entry: LedgerEntry) -> LedgerEntry:
    order = PaymentOrder.objects.create(
        reference=f"T{entry.pk:010d}",
        member=entry.member,
        idempotency_key=f"k{entry.pk}",
        months=[entry.month],
        amount=entry.amount_due or Decimal("1.00"),
        channel=PaymentOrder.Channel.CASH,
        collected_by=entry.organization,
        status=PaymentOrder.Status.PAID,
        paid_at=timezone.now(),
        receipt_number=f"R{entry.pk:010d}",
    )
    entry.status, entry.payment = Status.PAID, order
    entry.paid_amount, entry.paid_at = order.amount, order.paid_at
    entry.save()
    return entry


def entry(member, month) -> LedgerEntry:
    return LedgerEntry.objects.exclude(status=Status.CANCELLED).get(
        member=member, month=month
    )


# Which months are owed


def test_a_member_held_before_the_ledger_start_owes_from_its_first_month(member):
    result = generate_ledger(through=D(2026, 3, 20))

    assert months(member) == [(D(2026, m, 1), "B-A") for m in (1, 2, 3)]
    assert result == LedgerResult(added=3)


def test_the_ledger_start_is_a_setting(member, settings):
    settings.LIUDONG_DUES_LEDGER_START = D(2026, 3, 1)

    generate_ledger(through=D(2026, 4, 1))

    assert months(member) == [(D(2026, 3, 1), "B-A"), (D(2026, 4, 1), "B-A")]


def test_a_member_joining_mid_month_owes_that_month(branch_a):
    joined = held(branch_a, (D(2026, 3, 17), None), joined_on=D(2026, 3, 17))

    generate_ledger(through=D(2026, 5, 1))

    assert months(joined) == [(D(2026, m, 1), "B-A") for m in (3, 4, 5)]


def test_a_member_joining_on_the_last_day_of_the_month_owes_that_month(branch_a):
    joined = held(branch_a, (D(2026, 8, 31), None), joined_on=D(2026, 8, 31))

    generate_ledger(through=D(2026, 9, 1))

    assert months(joined) == [(D(2026, 8, 1), "B-A"), (D(2026, 9, 1), "B-A")]


def test_a_probationary_member_owes_from_the_month_the_branch_accepted_them(
    branch_a,
):
    # The record came in with the branch in January; the branch meeting
    # accepted the member as probationary on 20 April.
    probationary = held(
        branch_a,
        (D(2026, 1, 5), None),
        joined_on=D(2026, 4, 20),
        status=Member.Status.PROBATIONARY,
    )

    generate_ledger(through=D(2026, 6, 1))

    assert months(probationary) == [(D(2026, m, 1), "B-A") for m in (4, 5, 6)]


def test_a_member_transferred_on_the_17th_pays_that_month_once_to_the_old_branch(
    member, branch_b
):
    move(member, branch_b, D(2026, 3, 17))

    generate_ledger(through=D(2026, 5, 1))

    assert months(member) == [
        (D(2026, 1, 1), "B-A"),
        (D(2026, 2, 1), "B-A"),
        (D(2026, 3, 1), "B-A"),
        (D(2026, 4, 1), "B-B"),
        (D(2026, 5, 1), "B-B"),
    ]


def test_a_member_transferred_on_the_1st_pays_that_month_to_the_new_branch(
    member, branch_b
):
    move(member, branch_b, D(2026, 3, 1))

    generate_ledger(through=D(2026, 4, 1))

    assert months(member) == [
        (D(2026, 1, 1), "B-A"),
        (D(2026, 2, 1), "B-A"),
        (D(2026, 3, 1), "B-B"),
        (D(2026, 4, 1), "B-B"),
    ]


def test_a_future_membership_is_not_owed_until_through_reaches_it(branch_a):
    future = held(branch_a, (D(2027, 1, 10), None))

    before = generate_ledger(through=D(2026, 12, 31))
    reached = generate_ledger(through=D(2027, 1, 1))

    assert before == LedgerResult()
    assert reached == LedgerResult(added=1)
    assert months(future) == [(D(2027, 1, 1), "B-A")]


def test_a_future_dated_transfer_moves_the_months_from_its_month_on(member, branch_b):
    move(member, branch_b, D(2026, 5, 10))

    generate_ledger(through=D(2026, 4, 1))
    later = generate_ledger(through=D(2026, 6, 1))

    assert later == LedgerResult(added=2)
    assert months(member)[-3:] == [
        (D(2026, 4, 1), "B-A"),
        (D(2026, 5, 1), "B-A"),
        (D(2026, 6, 1), "B-B"),
    ]


def test_a_readmitted_member_owes_nothing_for_the_months_in_the_gap(branch_a, branch_b):
    readmitted = held(
        branch_a,
        (D(2025, 6, 1), D(2026, 3, 10)),
        (branch_b, D(2026, 7, 20), None),
    )

    generate_ledger(through=D(2026, 9, 1))

    assert months(readmitted) == [
        (D(2026, 1, 1), "B-A"),
        (D(2026, 2, 1), "B-A"),
        (D(2026, 3, 1), "B-A"),
        (D(2026, 7, 1), "B-B"),
        (D(2026, 8, 1), "B-B"),
        (D(2026, 9, 1), "B-B"),
    ]


def test_february_and_month_end_edges(branch_a, branch_b, branch_c):
    # Held by A through 31 January 2028 (the period ends before 1 February),
    # nowhere for most of February, by B from 29 February (a leap day) and
    # by C from 31 March.
    edges = held(
        branch_a,
        (D(2027, 12, 31), D(2028, 2, 1)),
        (branch_b, D(2028, 2, 29), D(2028, 3, 31)),
        (branch_c, D(2028, 3, 31), None),
    )

    generate_ledger(through=D(2028, 4, 30))

    assert months(edges) == [
        (D(2027, 12, 1), "B-A"),
        (D(2028, 1, 1), "B-A"),
        (D(2028, 2, 1), "B-B"),
        (D(2028, 3, 1), "B-B"),
        (D(2028, 4, 1), "B-C"),
    ]


def test_a_period_ending_on_the_last_day_of_february_keeps_february_there(
    branch_a, branch_b
):
    # The move on 29 February leaves 1-28 February with A: A collects it.
    leap = held(
        branch_a,
        (D(2027, 11, 30), D(2028, 2, 29)),
        (branch_b, D(2028, 2, 29), None),
    )

    generate_ledger(through=D(2028, 3, 1))

    assert months(leap)[-3:] == [
        (D(2028, 1, 1), "B-A"),
        (D(2028, 2, 1), "B-A"),
        (D(2028, 3, 1), "B-B"),
    ]


def test_a_period_of_one_day_on_the_31st_owes_that_month(branch_a, branch_b):
    brief = held(
        branch_a, (D(2026, 1, 31), D(2026, 2, 1)), (branch_b, D(2026, 3, 2), None)
    )

    generate_ledger(through=D(2026, 3, 1))

    assert months(brief) == [(D(2026, 1, 1), "B-A"), (D(2026, 3, 1), "B-B")]


@pytest.mark.parametrize(
    "status",
    [
        Member.Status.SUSPENDED,
        Member.Status.DECEASED,
        Member.Status.REMOVED,
        Member.Status.TRANSFERRED_OUT,
    ],
)
def test_only_probationary_and_full_members_get_new_months(member, status):
    generate_ledger(through=D(2026, 2, 1))
    Member.objects.filter(pk=member.pk).update(status=status)

    result = generate_ledger(through=D(2026, 4, 1))

    assert result == LedgerResult()
    assert months(member) == [(D(2026, 1, 1), "B-A"), (D(2026, 2, 1), "B-A")]


# Prices


def test_a_month_without_an_assessment_is_owed_with_no_amount(member):
    generate_ledger(through=D(2026, 1, 1))

    assert ledger(member) == [(D(2026, 1, 1), "B-A", None, Status.DUE)]


def test_each_month_takes_the_assessment_in_force(member, branch_a):
    january = make_assessment(member, branch_a, amount="15.00")
    march = make_assessment(
        member, branch_a, amount="30.00", applies_from=D(2026, 3, 1)
    )

    generate_ledger(through=D(2026, 4, 1))

    assert [amount for _m, _o, amount, _s in ledger(member)] == [
        Decimal("15.00"),
        Decimal("15.00"),
        Decimal("30.00"),
        Decimal("30.00"),
    ]
    assert entry(member, D(2026, 2, 1)).assessment == january
    assert entry(member, D(2026, 3, 1)).assessment == march


def _approved(member, organization, first, last, amount) -> Reduction:
    return Reduction.objects.create(
        member=member,
        organization=organization,
        first_month=first,
        last_month=last,
        monthly_amount=Decimal(amount),
        reason="病休",
        branch_decided_on=D(2026, 1, 1),
        status=Reduction.Status.APPROVED,
        decided_at=timezone.now(),
    )


def test_an_approved_reduction_overrides_the_assessment_and_zero_waives(
    member, branch_a
):
    make_assessment(member, branch_a, amount="15.00")
    reduced = _approved(member, branch_a, D(2026, 2, 1), D(2026, 2, 1), "5.00")
    waived = _approved(member, branch_a, D(2026, 3, 1), D(2026, 3, 1), "0.00")
    Reduction.objects.create(
        member=member,
        organization=branch_a,
        first_month=D(2026, 4, 1),
        last_month=D(2026, 4, 1),
        monthly_amount=Decimal("0"),
        reason="待批",
        branch_decided_on=D(2026, 1, 1),
    )

    generate_ledger(through=D(2026, 4, 1))

    assert ledger(member) == [
        (D(2026, 1, 1), "B-A", Decimal("15.00"), Status.DUE),
        (D(2026, 2, 1), "B-A", Decimal("5.00"), Status.DUE),
        (D(2026, 3, 1), "B-A", Decimal("0.00"), Status.WAIVED),
        (D(2026, 4, 1), "B-A", Decimal("15.00"), Status.DUE),
    ]
    assert entry(member, D(2026, 2, 1)).reduction == reduced
    assert entry(member, D(2026, 3, 1)).reduction == waived


def test_regeneration_reprices_unpaid_months_after_a_new_assessment(member, branch_a):
    make_assessment(member, branch_a, amount="15.00")
    generate_ledger(through=D(2026, 4, 1))
    mark_paid(entry(member, D(2026, 3, 1)))
    make_assessment(member, branch_a, amount="50.00", applies_from=D(2026, 2, 1))

    result = generate_ledger(through=D(2026, 4, 1))

    assert result == LedgerResult(repriced=2)
    assert ledger(member) == [
        (D(2026, 1, 1), "B-A", Decimal("15.00"), Status.DUE),
        (D(2026, 2, 1), "B-A", Decimal("50.00"), Status.DUE),
        (D(2026, 3, 1), "B-A", Decimal("15.00"), Status.PAID),
        (D(2026, 4, 1), "B-A", Decimal("50.00"), Status.DUE),
    ]


# Regeneration after a change


def test_a_backdated_transfer_repoints_unpaid_months_but_not_a_paid_one(
    member, branch_b
):
    generate_ledger(through=D(2026, 4, 1))
    paid = mark_paid(entry(member, D(2026, 3, 1)))
    move(member, branch_b, D(2026, 2, 10))

    result = generate_ledger(through=D(2026, 4, 1))

    assert result == LedgerResult(moved=1)
    assert months(member) == [
        (D(2026, 1, 1), "B-A"),
        (D(2026, 2, 1), "B-A"),
        (D(2026, 3, 1), "B-A"),
        (D(2026, 4, 1), "B-B"),
    ]
    assert entry(member, D(2026, 3, 1)).pk == paid.pk


def test_a_backdated_end_of_membership_cancels_unpaid_months_only(member):
    generate_ledger(through=D(2026, 5, 1))
    paid = mark_paid(entry(member, D(2026, 3, 1)))
    move(member, None, D(2026, 2, 10))

    result = generate_ledger(through=D(2026, 5, 1))

    assert result == LedgerResult(cancelled=2)
    assert ledger(member) == [
        (D(2026, 1, 1), "B-A", None, Status.DUE),
        (D(2026, 2, 1), "B-A", None, Status.DUE),
        (D(2026, 3, 1), "B-A", None, Status.PAID),
    ]
    cancelled = LedgerEntry.objects.filter(member=member, status=Status.CANCELLED)
    assert sorted(cancelled.values_list("month", flat=True)) == [
        D(2026, 4, 1),
        D(2026, 5, 1),
    ]
    assert all(e.cancelled_at is not None for e in cancelled)
    assert set(cancelled.values_list("cancel_reason", flat=True)) == {"not_owed"}
    assert entry(member, D(2026, 3, 1)).updated_at == paid.updated_at


def test_a_waived_month_is_never_touched(member, branch_a, branch_b):
    _approved(member, branch_a, D(2026, 2, 1), D(2026, 2, 1), "0.00")
    generate_ledger(through=D(2026, 3, 1))
    move(member, branch_b, D(2026, 1, 10))

    generate_ledger(through=D(2026, 3, 1))

    assert ledger(member) == [
        (D(2026, 1, 1), "B-A", None, Status.DUE),
        (D(2026, 2, 1), "B-A", Decimal("0.00"), Status.WAIVED),
        (D(2026, 3, 1), "B-B", None, Status.DUE),
    ]


def test_a_month_cancelled_then_owed_again_gets_a_new_live_row(member, branch_b):
    generate_ledger(through=D(2026, 3, 1))
    move(member, None, D(2026, 2, 10))
    generate_ledger(through=D(2026, 3, 1))
    MembershipPeriod.objects.create(
        member=member, organization=branch_b, period=DateRange(D(2026, 3, 5), None)
    )

    result = generate_ledger(through=D(2026, 3, 1))

    assert result == LedgerResult(added=1)
    assert months(member)[-1] == (D(2026, 3, 1), "B-B")
    assert LedgerEntry.objects.filter(member=member, month=D(2026, 3, 1)).count() == 2


def test_months_generated_ahead_follow_a_later_move_and_are_kept_by_a_shorter_run(
    member, branch_b
):
    generate_ledger(through=D(2026, 6, 1))
    move(member, branch_b, D(2026, 5, 1))

    result = generate_ledger(through=D(2026, 3, 1))

    assert result == LedgerResult(moved=2)
    assert months(member)[-2:] == [(D(2026, 5, 1), "B-B"), (D(2026, 6, 1), "B-B")]


def test_a_second_run_changes_nothing(member, member_of_b, branch_a, branch_c):
    make_assessment(member, branch_a)
    move(member_of_b, branch_c, D(2026, 2, 17))
    first = generate_ledger(through=D(2026, 6, 1))
    snapshot = list(LedgerEntry.objects.order_by("pk").values())

    second = generate_ledger(through=D(2026, 6, 1))

    assert first.added == 12
    assert second == LedgerResult()
    assert list(LedgerEntry.objects.order_by("pk").values()) == snapshot


# Selection


def test_member_ids_limit_the_run(member, member_of_b):
    result = generate_ledger(through=D(2026, 2, 1), member_ids=[member.pk])

    assert result == LedgerResult(added=2)
    assert months(member_of_b) == []


def test_an_organisation_limits_the_run_to_members_held_under_it(
    province_a, member, member_of_b, member_of_c
):
    result = generate_ledger(through=D(2026, 2, 1), organization=province_a)

    assert result == LedgerResult(added=4)
    assert months(member_of_c) == []


def test_an_organisation_run_includes_members_who_left_it(branch_a, branch_c, member):
    move(member, branch_c, D(2026, 2, 10))

    generate_ledger(through=D(2026, 3, 1), organization=branch_a)

    assert months(member) == [
        (D(2026, 1, 1), "B-A"),
        (D(2026, 2, 1), "B-A"),
        (D(2026, 3, 1), "B-C"),
    ]


def test_two_thousand_members_in_one_set_based_call(
    branch_a, branch_b, django_assert_max_num_queries
):
    people = [
        Member(
            name=f"成员{n}",
            gender="male",
            birth_date=D(1985, 6, 15),
            joined_on=D(2010, 7, 1),
            id_number=factories.make_id_number(),
            id_number_hash=blind_index(f"bulk-{n}"),
        )
        for n in range(2000)
    ]
    people = Member.objects.bulk_create(people)
    MembershipPeriod.objects.bulk_create(
        MembershipPeriod(
            member=person,
            organization=branch_a if n % 2 else branch_b,
            period=DateRange(D(2026, 1 + n % 12, 1 + n % 28), None),
        )
        for n, person in enumerate(people)
    )
    expected = sum(12 - n % 12 for n in range(2000))

    with django_assert_max_num_queries(15):
        result = generate_ledger(through=D(2026, 12, 1))

    assert result == LedgerResult(added=expected)
    assert LedgerEntry.objects.count() == expected
    assert _members_with_a_month_twice() == 0


def _members_with_a_month_twice() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM (
                 SELECT member_id, month FROM dues_ledgerentry
                 WHERE status <> 'cancelled'
                 GROUP BY member_id, month HAVING count(*) > 1) d"""
        )
        return cursor.fetchone()[0]


# Hooks


def test_creating_a_member_generates_their_ledger_on_commit(
    branch_a, secretary_of_a, django_capture_on_commit_callbacks
):
    starts = timezone.localdate().replace(day=1) - relativedelta(months=1)

    with django_capture_on_commit_callbacks(execute=True):
        created = member_create(
            actor=secretary_of_a,
            organization=branch_a,
            starts_on=starts,
            name="赵六",
            gender="male",
            id_number=factories.make_id_number(),
            birth_date=D(1985, 6, 15),
            joined_on=D(2010, 7, 1),
        )

    assert months(created) == [
        (starts, "B-A"),
        (starts + relativedelta(months=1), "B-A"),
    ]


def test_completing_a_transfer_moves_the_months_ahead_on_commit(
    member, branch_b, secretary_of_a, secretary_of_b, django_capture_on_commit_callbacks
):
    this_month = timezone.localdate().replace(day=1)
    ahead = this_month + relativedelta(months=2)
    generate_ledger(through=ahead, member_ids=[member.pk])
    letter = transfers.transfer_issue(
        actor=secretary_of_a,
        transfer=transfers.transfer_create(
            actor=secretary_of_a,
            member=member,
            to_organization=branch_b,
            dues_paid_through=transfers.dues_required_through(timezone.localdate()),
        ),
    )
    transfers.transfer_accept(actor=secretary_of_b, transfer=letter)

    with django_capture_on_commit_callbacks(execute=True):
        transfers.transfer_report(actor=secretary_of_b, transfer=letter)

    assert months(member)[-3:] == [
        (this_month, "B-A" if timezone.localdate().day > 1 else "B-B"),
        (this_month + relativedelta(months=1), "B-B"),
        (ahead, "B-B"),
    ]
