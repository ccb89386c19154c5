"""The same member studying in several requests at the same moment.

Each test runs real transactions in threads, each with its own database
connection. The rule is slowed down inside the transaction (a pause), so
the second request surely arrives while the first is still uncommitted.
"""

import datetime
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from learning import rules
from learning.models import OfflineStudy, Progress
from learning.selectors.hours import yearly_hours
from learning.services import study
from members.models import AuditEvent
from tests import factories
from tests.learning.arrange import lecture, local, make_course

PAUSE = 0.4
T0 = local(2026, 5, 1, 9, 0)


@pytest.fixture(autouse=True)
def _real_transactions(transactional_db):
    pass


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def slowed(monkeypatch, name):
    """Pause inside the transaction each time ``rules.<name>`` is asked."""
    original = getattr(rules, name)

    def slow(*args, **kw):
        result = original(*args, **kw)
        time.sleep(PAUSE)
        return result

    monkeypatch.setattr(rules, name, slow)


def in_threads(*calls, stagger=0.0):
    """Run each call in its own thread and connection.

    Released together; with ``stagger``, each starts that many seconds
    after the one before, so the order of arrival is known.
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

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.fixture
def learner(db):
    branch = factories.make_organization(code="B-L", name="学习支部")
    user = factories.make_user("learner")
    member = factories.make_member(branch, user=user)
    return user, member, branch


def studied(member, course):
    return Progress.objects.create(
        member=member,
        course=course,
        opened_at=T0,
        seconds=int(course.credit_hours * 3600),
    )


def test_two_simultaneous_completions_credit_the_course_once(learner, monkeypatch):
    user, member, branch = learner
    course = make_course(branch, credit_hours=Decimal("2.00"))
    studied(member, course)
    slowed(monkeypatch, "local_year")

    def complete():
        return study.complete(user=user, course=course, at=T0).pk

    outcomes = in_threads(complete, complete)

    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    assert yearly_hours(member, 2026) == Decimal("2.00")
    assert AuditEvent.objects.filter(action="course.completed").count() == 1


def test_a_beat_delivered_twice_at_once_counts_once(learner, monkeypatch):
    user, member, branch = learner
    course = make_course(branch)
    study.heartbeat(user=user, course=course, tab="a", at=T0)
    slowed(monkeypatch, "count_beat")
    later = T0 + datetime.timedelta(seconds=30)

    def beat():
        return study.heartbeat(user=user, course=course, tab="a", at=later).pk

    outcomes = in_threads(beat, beat)

    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    assert Progress.objects.get().seconds == 30


def test_a_late_beat_arriving_during_a_newer_one_loses_no_time(learner, monkeypatch):
    user, member, branch = learner
    course = make_course(branch)
    study.heartbeat(user=user, course=course, tab="a", at=T0)
    slowed(monkeypatch, "count_beat")

    def beat(seconds):
        moment = T0 + datetime.timedelta(seconds=seconds)
        return lambda: study.heartbeat(user=user, course=course, tab="a", at=moment)

    # The newer beat arrives first; the older one, delayed on the network,
    # arrives while the newer is still being counted.
    outcomes = in_threads(beat(60), beat(30), stagger=0.1)

    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    assert Progress.objects.get().seconds == 60


def test_two_courses_beating_at_once_count_the_wall_clock_once(learner, monkeypatch):
    user, member, branch = learner
    first, second = make_course(branch), make_course(branch)
    study.heartbeat(user=user, course=first, tab="a", at=T0)
    study.heartbeat(user=user, course=second, tab="b", at=T0)
    slowed(monkeypatch, "count_beat")
    later = T0 + datetime.timedelta(seconds=30)

    outcomes = in_threads(
        lambda: study.heartbeat(user=user, course=first, tab="a", at=later),
        lambda: study.heartbeat(user=user, course=second, tab="b", at=later),
    )

    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    assert sum(Progress.objects.values_list("seconds", flat=True)) <= 30


def test_a_lecture_credited_twice_at_once_credits_each_member_once(learner):
    _user, member, branch = learner
    secretary = factories.make_user("sec_l", is_staff=True)
    factories.make_role(secretary, branch, "secretary")
    meeting = lecture(branch, secretary, member)

    in_threads(
        lambda: study.credit_meeting_attendance(meeting),
        lambda: study.credit_meeting_attendance(meeting),
    )

    assert OfflineStudy.objects.filter(member=member, meeting=meeting).count() == 1
