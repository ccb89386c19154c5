"""Memory-based review: cards, grading, FSRS scheduling through the library."""

import datetime
import threading

import fsrs
import pytest
from django.db import connection

from learning.models import Card, Progress, Question, Review
from learning.services import review
from organizations.scope import OutOfScope
from tests import factories
from tests.learning.arrange import local, make_course

Rating = Review.Rating
AT = local(2026, 3, 2, 9, 0)


@pytest.fixture(autouse=True)
def _no_fuzz(monkeypatch):
    # FSRS spreads long intervals by a random fuzz; fixing the draw makes
    # due dates repeatable, while the scheduling stays the library's.
    monkeypatch.setattr("fsrs.scheduler.random", lambda: 0.5)


@pytest.fixture
def course(branch_a):
    return make_course(branch_a)


def make_question(course, kind="single", options=("甲", "乙", "丙"), answer=(1,)):
    if kind == Question.Kind.TRUE_FALSE:
        options = ()
    return Question.objects.create(
        course=course,
        kind=kind,
        text=f"题目 {Question.objects.count() + 1}",
        options=list(options),
        answer=list(answer),
    )


def open_course(member, course, at=AT):
    return Progress.objects.create(member=member, course=course, opened_at=at)


def card_for(member, question) -> Card:
    review.cards_for(member, now=AT)
    return Card.objects.get(member=member, question=question)


def answer(user, card, chosen, at, **kw) -> review.Answered:
    return review.answer(user=user, card_id=card.pk, chosen=chosen, at=at, **kw)


# --- cards -------------------------------------------------------------------


def test_cards_are_made_for_active_questions_of_opened_courses(member, branch_a):
    opened, unopened = make_course(branch_a), make_course(branch_a)
    wanted = make_question(opened)
    Question.objects.filter(pk=make_question(opened).pk).update(active=False)
    make_question(unopened)
    open_course(member, opened)

    created = review.cards_for(member, now=AT)

    assert created == 1
    assert list(member.cards.values_list("question_id", flat=True)) == [wanted.pk]
    assert member.cards.get().due == AT


def test_making_cards_again_adds_none(member, course):
    make_question(course)
    open_course(member, course)
    review.cards_for(member, now=AT)

    created = review.cards_for(member, now=AT)

    assert created == 0
    assert member.cards.count() == 1


def test_due_cards_are_the_members_due_ones_most_overdue_first(member, course):
    first, second, later = (make_question(course) for _ in range(3))
    open_course(member, course)
    review.cards_for(member, now=AT)
    Card.objects.filter(question=first).update(due=AT - datetime.timedelta(days=2))
    Card.objects.filter(question=later).update(due=AT + datetime.timedelta(hours=1))

    due = review.due_cards(member, now=AT)

    assert [c.question_id for c in due] == [first.pk, second.pk]
    assert [c.question_id for c in review.due_cards(member, now=AT, limit=1)] == [
        first.pk
    ]


# --- grading -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "chosen", "right"),
    [
        ("single", [1], [1], True),
        ("single", [1], [0], False),
        ("single", [1], [1, 2], False),
        ("single", [1], [], False),
        ("multiple", [0, 2], [2, 0], True),
        ("multiple", [0, 2], [0], False),
        ("multiple", [0, 2], [0, 1, 2], False),
        ("true_false", [1], [1], True),
        ("true_false", [1], [0], False),
        ("true_false", [0], [0], True),
        ("true_false", [0], [0, 1], False),
    ],
)
def test_answers_are_graded_by_kind(course, kind, key, chosen, right):
    question = make_question(course, kind=kind, answer=key)

    assert review.grade(question, chosen) is right


def test_a_wrong_answer_is_recorded_as_again_whatever_the_member_rates(
    member, member_user, course
):
    open_course(member, course)
    card = card_for(member, make_question(course, answer=[1]))

    outcome = answer(member_user, card, [0], AT, rating=Rating.EASY, duration_ms=8000)

    assert outcome.correct is False
    stored = Review.objects.get()
    assert (stored.rating, stored.correct, stored.duration_ms) == (
        Rating.AGAIN,
        False,
        8000,
    )
    assert stored.reviewed_at == AT


def test_a_correct_answer_is_good_unless_the_member_says_otherwise(
    member, member_user, course
):
    open_course(member, course)
    plain, easy = make_question(course), make_question(course)

    answer(member_user, card_for(member, plain), [1], AT)
    answer(member_user, card_for(member, easy), [1], AT, rating=Rating.EASY)

    ratings = dict(Review.objects.values_list("card__question_id", "rating"))
    assert ratings == {plain.pk: Rating.GOOD, easy.pk: Rating.EASY}
    assert Card.objects.get(question=easy).due > Card.objects.get(question=plain).due


def test_again_is_not_a_rating_for_a_correct_answer(member, member_user, course):
    open_course(member, course)
    card = card_for(member, make_question(course))

    with pytest.raises(ValueError, match="rating 1"):
        answer(member_user, card, [1], AT, rating=Rating.AGAIN)

    assert not Review.objects.exists()


# --- scheduling --------------------------------------------------------------


def test_a_card_answered_right_is_due_later_than_one_answered_wrong(
    member, member_user, course
):
    open_course(member, course)
    right, wrong = make_question(course), make_question(course)

    answer(member_user, card_for(member, right), [1], AT)
    answer(member_user, card_for(member, wrong), [2], AT)

    right_due = Card.objects.get(question=right).due
    wrong_due = Card.objects.get(question=wrong).due
    assert wrong_due == AT + datetime.timedelta(minutes=1)  # first learning step
    assert right_due > wrong_due


def test_repeated_good_answers_push_the_due_date_further(member, member_user, course):
    open_course(member, course)
    card = card_for(member, make_question(course))
    intervals = []

    for _ in range(6):
        card.refresh_from_db()
        at = card.due
        answer(member_user, card, [1], at)
        card.refresh_from_db()
        intervals.append(card.due - at)

    assert intervals == sorted(intervals)
    assert len(set(intervals)) == len(intervals)
    assert intervals[-1] > datetime.timedelta(days=30)
    assert card.state == fsrs.State.Review


def test_forgetting_brings_a_well_known_card_back_soon(member, member_user, course):
    open_course(member, course)
    card = card_for(member, make_question(course))
    for _ in range(4):
        card.refresh_from_db()
        answer(member_user, card, [1], card.due)
    card.refresh_from_db()
    assert card.due - card.last_review > datetime.timedelta(days=7)

    at = card.due
    answer(member_user, card, [0], at)

    card.refresh_from_db()
    assert card.state == fsrs.State.Relearning
    assert card.due == at + datetime.timedelta(minutes=10)  # relearning step


def test_rescheduling_replays_the_history_with_the_new_retention(
    member, member_user, course, settings
):
    open_course(member, course)
    card = card_for(member, make_question(course))
    for chosen in ([1], [1], [0], [1], [1]):
        card.refresh_from_db()
        answer(member_user, card, chosen, card.due)
    card.refresh_from_db()
    due_at_90 = card.due
    logs = [
        fsrs.ReviewLog(
            card_id=card.pk,
            rating=fsrs.Rating(r.rating),
            review_datetime=r.reviewed_at.astimezone(datetime.UTC),
            review_duration=None,
        )
        for r in card.reviews.all()
    ]

    settings.LIUDONG_FSRS_DESIRED_RETENTION = 0.8
    count = review.reschedule_all(member)

    card.refresh_from_db()
    replayed = fsrs.Scheduler(desired_retention=0.8).reschedule_card(
        fsrs.Card(card_id=card.pk), logs
    )
    assert count == 1
    assert card.due == replayed.due
    assert (card.stability, card.difficulty) == (
        replayed.stability,
        replayed.difficulty,
    )
    assert card.due > due_at_90  # aiming at less retention allows longer gaps
    assert card.reviews.count() == 5


def test_rescheduling_at_the_same_settings_changes_nothing(member, member_user, course):
    open_course(member, course)
    card = card_for(member, make_question(course))
    for _ in range(3):
        card.refresh_from_db()
        answer(member_user, card, [1], card.due)
    card.refresh_from_db()
    before = (card.due, card.stability, card.difficulty, card.state, card.step)

    review.reschedule_all()

    card.refresh_from_db()
    assert (card.due, card.stability, card.difficulty, card.state, card.step) == before


def test_rescheduling_leaves_unreviewed_cards_alone(member, course):
    open_course(member, course)
    make_question(course)
    review.cards_for(member, now=AT)

    assert review.reschedule_all() == 0
    assert member.cards.get().due == AT


# --- whose card, and double submits -----------------------------------------


def test_another_members_card_is_out_of_scope(member, course, branch_a):
    other = factories.make_member(branch_a, user=factories.make_user())
    open_course(other, course)
    card = card_for(other, make_question(course))
    intruder = member.user

    with pytest.raises(OutOfScope):
        answer(intruder, card, [1], AT)

    assert not Review.objects.exists()


def test_a_card_of_a_withdrawn_question_is_out_of_scope(member, member_user, course):
    open_course(member, course)
    card = card_for(member, make_question(course))
    Question.objects.update(active=False)

    with pytest.raises(OutOfScope):
        answer(member_user, card, [1], AT)


def test_a_double_submit_is_refused_and_counted_once(member, member_user, course):
    open_course(member, course)
    card = card_for(member, make_question(course))
    answer(member_user, card, [1], AT)

    with pytest.raises(review.NotDue):
        answer(member_user, card, [1], AT + datetime.timedelta(seconds=2))

    assert Review.objects.count() == 1
    assert Card.objects.get().due == AT + datetime.timedelta(minutes=10)


def test_two_simultaneous_submits_apply_once(
    transactional_db, member, member_user, course
):
    # The transactional_db fixture (not the marker) lets conftest reload the
    # code tables an earlier transactional test flushed.
    open_course(member, course)
    card = card_for(member, make_question(course))
    barrier = threading.Barrier(2)
    outcomes = []

    def submit():
        barrier.wait()
        try:
            answer(member_user, card, [1], AT)
            outcomes.append("ok")
        except review.NotDue:
            outcomes.append("not due")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["not due", "ok"]
    assert Review.objects.count() == 1
