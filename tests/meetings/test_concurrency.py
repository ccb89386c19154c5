"""Two people acting on the same meeting at the same moment.

Each test runs real transactions in threads, each with its own database
connection. The first one holds its transaction open a little longer (a
pause inside it), so the second is certain to arrive while the first is
still uncommitted.
"""

import datetime
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from organizations.meetings import services
from organizations.meetings.services import attendance as attendance_services
from organizations.meetings.services import planning as planning_services
from organizations.models import AttendanceChange, AttendanceInterval
from organizations.scope import scope_for
from tests import factories
from tests.meetings.arrange import attendance_of, plan

PAUSE = 0.4


@pytest.fixture(autouse=True)
def _real_transactions(transactional_db):
    pass


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def notified(monkeypatch):
    """The attendance ids each invite announced, instead of a task."""
    calls = []

    def record(meeting_id, attendance_ids):
        time.sleep(PAUSE)  # still inside the inviting transaction
        calls.append(sorted(attendance_ids))

    monkeypatch.setattr(planning_services, "_notify_on_commit", record)
    return calls


def in_threads(*calls, stagger=0.0):
    """Run each call in its own thread and connection.

    Without ``stagger`` they are released together; with it, each starts
    that many seconds after the one before, so the order is known.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            time.sleep(stagger * index)
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


@pytest.fixture
def started(branch_a, member, secretary_of_a, notified):
    return plan(branch_a, secretary_of_a, kind="theme_day")


def slow(monkeypatch, name):
    """Make an attendance service pause inside its transaction after it ran."""
    original = getattr(attendance_services, name)

    def slowed(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(PAUSE)
        return result

    monkeypatch.setattr(attendance_services, name, slowed)


def test_two_check_ins_at_once_keep_one_stay(started, member, member_user, monkeypatch):
    slow(monkeypatch, "_start_stay")

    outcomes = in_threads(
        lambda: services.check_in(user=member_user, meeting=started),
        lambda: services.check_in(user=member_user, meeting=started),
    )

    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    attendance = attendance_of(started, member)
    assert attendance.intervals.count() == 1
    assert attendance.status == "present"
    assert AttendanceChange.objects.filter(to_status="present").count() == 1


def test_two_invites_at_once_make_one_invitation_announced_once(
    started, branch_a, notified
):
    newcomer = factories.make_member(branch_a)

    def invite():
        with transaction.atomic():
            return services.invite(started, [newcomer])

    outcomes = in_threads(invite, invite)

    assert sorted(outcomes) == [("ok", 0), ("ok", 1)]
    assert started.attendances.filter(member=newcomer).count() == 1
    assert notified[-1:] == [[attendance_of(started, newcomer).pk]]
    assert len(notified) == 2  # the plan's own invitation, then one more


def test_a_check_in_during_the_close_changes_nothing(
    started, member, member_user, secretary_of_a, monkeypatch
):
    # The member checked in and left earlier; they open the link again
    # while the secretary is closing the meeting.
    arrived = started.starts_at + datetime.timedelta(minutes=1)
    services.check_in(user=member_user, meeting=started, at=arrived)
    services.leave(user=member_user, meeting=started, at=arrived)
    slow(monkeypatch, "clean_minutes")

    outcomes = in_threads(
        lambda: services.close_meeting(
            actor=secretary_of_a,
            scope=scope_for(secretary_of_a),
            meeting=started,
            minutes="<p>纪要</p>",
        ),
        lambda: services.check_in(user=member_user, meeting=started),
        stagger=0.1,
    )

    assert outcomes[0][0] == "ok"
    kind, error = outcomes[1]
    assert (kind, error.code) == ("error", "ended")
    assert not AttendanceInterval.objects.filter(period__upper_inf=True).exists()
    assert attendance_of(started, member).intervals.count() == 1


def test_an_excuse_recorded_during_the_close_is_kept(
    started, member, secretary_of_a, committee_staff, monkeypatch
):
    slow(monkeypatch, "_change_status")

    outcomes = in_threads(
        lambda: services.record_absence(
            actor=committee_staff,
            scope=scope_for(committee_staff),
            attendance=attendance_of(started, member),
            status="excused",
            reason="病假",
        ),
        lambda: services.close_meeting(
            actor=secretary_of_a,
            scope=scope_for(secretary_of_a),
            meeting=started,
            minutes="",
            at=timezone.now(),
        ),
        stagger=0.1,
    )

    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    attendance = attendance_of(started, member)
    assert (attendance.status, attendance.reason) == ("excused", "病假")
    assert list(attendance.changes.values_list("from_status", "to_status")) == [
        ("invited", "excused")
    ]


def test_two_secretaries_closing_at_once_close_it_once(
    started, member, secretary_of_a, committee_staff, monkeypatch
):
    slow(monkeypatch, "clean_minutes")

    def close(actor):
        return lambda: services.close_meeting(
            actor=actor, scope=scope_for(actor), meeting=started, minutes="<p>x</p>"
        )

    outcomes = in_threads(close(secretary_of_a), close(committee_staff))

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"]
    error = next(value for kind, value in outcomes if kind == "error")
    assert error.code == "not_planned"
    assert attendance_of(started, member).changes.count() == 1
