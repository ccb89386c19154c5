"""Retention and most-forgotten questions, aggregated for a subtree in scope.

The fixture, for March 2026 (Beijing days)::

    branch_a  q1: 4 reviews, 2 forgotten   q2: 7 reviews, 1 forgotten
              q3: 2 reviews, 2 forgotten (below the threshold of 3)
    branch_b  q1: 6 reviews, 6 forgotten
    branch_c  q1: 3 reviews, 3 forgotten
    plus, in branch_a, q2 answered right just outside March on both sides.
"""

import dataclasses
import datetime

import pytest

from learning.models import Card, Question, Review
from learning.selectors import memory
from organizations.scope import OutOfScope, scope_for
from tests import factories
from tests.learning.arrange import local, make_course

Rating = Review.Rating
MARCH = {"since": datetime.date(2026, 3, 1), "until": datetime.date(2026, 3, 31)}


def reviews(member, question, *ratings, at=None):
    card, _ = Card.objects.get_or_create(
        member=member, question=question, defaults={"due": local(2026, 3, 1)}
    )
    for i, rating in enumerate(ratings):
        Review.objects.create(
            card=card,
            rating=rating,
            correct=rating != Rating.AGAIN,
            reviewed_at=at or local(2026, 3, 10, 8, i),
        )


@pytest.fixture
def questions(city_committee):
    course = make_course(city_committee)
    return [
        Question.objects.create(
            course=course, kind="single", text=f"q{n}", options=["甲", "乙"], answer=[0]
        )
        for n in (1, 2, 3)
    ]


@pytest.fixture
def history(questions, member, branch_a, member_of_b, member_of_c):
    q1, q2, q3 = questions
    other_in_a = factories.make_member(branch_a)
    A, G = Rating.AGAIN, Rating.GOOD
    reviews(member, q1, A, G)
    reviews(other_in_a, q1, A, Rating.HARD)
    reviews(member, q2, G, G, A, Rating.EASY)
    reviews(other_in_a, q2, G)
    reviews(member, q2, G, at=local(2026, 3, 1, 0, 0))
    reviews(member, q2, G, at=local(2026, 3, 31, 23, 59))
    reviews(other_in_a, q2, G, at=local(2026, 2, 28, 23, 59))
    reviews(other_in_a, q2, G, at=local(2026, 4, 1, 0, 0))
    reviews(member, q3, A, A)
    reviews(member_of_b, q1, A, A, A, A, A, A)
    reviews(member_of_c, q1, A, A, A)
    return questions


def test_retention_of_a_branch_is_its_share_of_correct_answers(
    history, branch_a, secretary_of_a
):
    figures = memory.retention(
        scope=scope_for(secretary_of_a), organization=branch_a, **MARCH
    )

    assert (figures.reviews, figures.correct) == (13, 8)
    assert figures.rate == pytest.approx(8 / 13)


def test_retention_of_a_committee_covers_its_branches(
    history, city_committee, committee_staff
):
    figures = memory.retention(
        scope=scope_for(committee_staff), organization=city_committee, **MARCH
    )

    assert (figures.reviews, figures.correct) == (19, 8)


def test_retention_with_no_reviews_has_no_rate(branch_b, secretary_of_b):
    figures = memory.retention(
        scope=scope_for(secretary_of_b), organization=branch_b, **MARCH
    )

    assert (figures.reviews, figures.correct, figures.rate) == (0, 0, None)


def test_most_forgotten_questions_of_a_branch(history, branch_a, secretary_of_a):
    q1, q2, _q3 = history

    forgotten = memory.most_forgotten(
        scope=scope_for(secretary_of_a), organization=branch_a, min_reviews=3, **MARCH
    )

    assert [(f.question_id, f.reviews, f.forgotten) for f in forgotten] == [
        (q1.pk, 4, 2),
        (q2.pk, 7, 1),
    ]
    assert forgotten[0].rate == 0.5
    assert forgotten[0].text == "q1"


def test_most_forgotten_of_a_committee_adds_its_branches(
    history, city_committee, committee_staff
):
    q1, q2, _q3 = history

    forgotten = memory.most_forgotten(
        scope=scope_for(committee_staff),
        organization=city_committee,
        min_reviews=3,
        limit=1,
        **MARCH,
    )

    assert [(f.question_id, f.reviews, f.forgotten) for f in forgotten] == [
        (q1.pk, 10, 8)
    ]


def test_the_aggregates_name_no_member():
    fields = {f.name for f in dataclasses.fields(memory.ForgottenQuestion)}

    assert fields == {"question_id", "text", "course_title", "reviews", "forgotten"}
    assert {f.name for f in dataclasses.fields(memory.Retention)} == {
        "reviews",
        "correct",
    }


@pytest.mark.parametrize("asked", ["branch_a", "city_committee"])
def test_a_secretary_of_another_branch_cannot_read_the_subtree(
    history, secretary_of_b, asked, request
):
    organization = request.getfixturevalue(asked)

    with pytest.raises(OutOfScope):
        memory.retention(
            scope=scope_for(secretary_of_b), organization=organization, **MARCH
        )
    with pytest.raises(OutOfScope):
        memory.most_forgotten(
            scope=scope_for(secretary_of_b), organization=organization, **MARCH
        )


def test_another_province_cannot_read_the_subtree(
    history, branch_a, provincial_viewer_other
):
    with pytest.raises(OutOfScope):
        memory.retention(
            scope=scope_for(provincial_viewer_other), organization=branch_a, **MARCH
        )
