"""Two people acting on the same transfer at the same moment.

Each test runs two real transactions in two threads, each with its own
database connection, released together by a barrier. The service that wins
the row lock holds it a little longer (a pause inside its transaction), so
the other one is certain to arrive while the first is still uncommitted.
"""

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from members.models import MembershipPeriod
from organizations import services
from organizations.models import Transfer
from organizations.services import TransferStateError, _common
from tests import factories

State = Transfer.State


@pytest.fixture(autouse=True)
def _real_transactions(transactional_db):
    # Each thread commits for real; the conftest reloads the code tables
    # that the flush after a transactional test removes.
    pass


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def slow_winner(monkeypatch):
    # Pause after the state change is written and before the commit: the
    # moment a second transaction must not slip through. Every step records
    # through the package's common module, so patching it there reaches all.
    record = _common.record

    def slow_record(*args, **kwargs):
        time.sleep(0.3)
        return record(*args, **kwargs)

    monkeypatch.setattr(_common, "record", slow_record)


@pytest.fixture
def second_secretary_of_b(branch_b):
    user = factories.make_user("sec_b2", is_staff=True)
    factories.make_role(user, branch_b, "secretary")
    return user


@pytest.fixture
def letter(member, branch_b, secretary_of_a):
    drafted = services.transfer_create(
        actor=secretary_of_a,
        member=member,
        to_organization=branch_b,
        dues_paid_through=services.dues_required_through(timezone.localdate()),
    )
    return services.transfer_issue(actor=secretary_of_a, transfer=drafted)


def at_once(*calls):
    """Run each call in its own thread and connection, released together."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except Exception as exc:  # noqa: BLE001 - the outcome is what we test
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def one_success_one_clear_failure(outcomes):
    kinds = sorted(kind for kind, _ in outcomes)
    errors = [value for kind, value in outcomes if kind == "error"]
    assert kinds == ["error", "ok"], outcomes
    assert isinstance(errors[0], TransferStateError), errors[0]
    return errors[0]


def test_two_receiving_secretaries_accept_at_once_and_one_is_told(
    letter, secretary_of_b, second_secretary_of_b, slow_winner
):
    outcomes = at_once(
        lambda: services.transfer_accept(actor=secretary_of_b, transfer=letter),
        lambda: services.transfer_accept(actor=second_secretary_of_b, transfer=letter),
    )

    error = one_success_one_clear_failure(outcomes)
    assert error.code == "transfer_state"
    assert error.messages == [
        "This transfer is now “Accepted” and cannot become “Accepted”."
    ]
    letter.refresh_from_db()
    assert letter.state == State.ACCEPTED
    assert letter.events.filter(to_state=State.ACCEPTED).count() == 1


def test_an_accept_and_a_withdrawal_at_once_leave_one_outcome(
    letter, secretary_of_a, secretary_of_b, slow_winner
):
    outcomes = at_once(
        lambda: services.transfer_accept(actor=secretary_of_b, transfer=letter),
        lambda: services.transfer_withdraw(actor=secretary_of_a, transfer=letter),
    )

    one_success_one_clear_failure(outcomes)
    letter.refresh_from_db()
    winner = next(value for kind, value in outcomes if kind == "ok")
    assert letter.state == winner.state
    assert letter.state in (State.ACCEPTED, State.WITHDRAWN)
    assert letter.events.exclude(from_state="").count() == 2  # issue + one more


def test_two_secretaries_record_the_arrival_at_once_and_it_moves_once(
    letter, member, secretary_of_b, second_secretary_of_b, slow_winner
):
    services.transfer_accept(actor=secretary_of_b, transfer=letter)

    outcomes = at_once(
        lambda: services.transfer_report(actor=secretary_of_b, transfer=letter),
        lambda: services.transfer_report(actor=second_secretary_of_b, transfer=letter),
    )

    one_success_one_clear_failure(outcomes)
    periods = MembershipPeriod.objects.filter(member=member)
    assert periods.count() == 2
    assert periods.filter(organization__code="B-B").count() == 1
    assert periods.get(organization__code="B-A").period.upper == timezone.localdate()


def test_two_letters_for_one_member_at_once_leave_one_open(
    member, branch_b, city_committee, secretary_of_a, committee_staff, slow_winner
):
    month = services.dues_required_through(timezone.localdate())

    outcomes = at_once(
        lambda: services.transfer_create(
            actor=secretary_of_a,
            member=member,
            to_organization=branch_b,
            dues_paid_through=month,
        ),
        lambda: services.transfer_create(
            actor=committee_staff,
            member=member,
            to_organization=city_committee,
            dues_paid_through=month,
        ),
    )

    error = one_success_one_clear_failure(outcomes)
    assert error.code == "transfer_open"
    assert Transfer.objects.filter(member=member).count() == 1
