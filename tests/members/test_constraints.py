import datetime

import pytest
from django.db import IntegrityError, transaction
from psycopg2.extras import DateRange

from members.models import MembershipPeriod


def test_the_database_refuses_two_organisations_on_the_same_day(member, branch_b):
    with pytest.raises(IntegrityError, match="membership_period_no_overlap"):
        with transaction.atomic():
            MembershipPeriod.objects.create(
                member=member,
                organization=branch_b,
                period=DateRange(datetime.date(2024, 1, 1), None),
            )


def test_adjacent_periods_are_allowed(member, branch_b):
    current = member.membership_periods.get()
    current.period = DateRange(current.period.lower, datetime.date(2024, 3, 17))
    current.save()

    MembershipPeriod.objects.create(
        member=member,
        organization=branch_b,
        period=DateRange(datetime.date(2024, 3, 17), None),
    )

    assert member.membership_periods.count() == 2


def test_a_period_without_a_start_is_refused(member, branch_b):
    with pytest.raises(IntegrityError, match="membership_period_has_start"):
        with transaction.atomic():
            MembershipPeriod.objects.create(
                member=member, organization=branch_b, period=DateRange(None, None)
            )
