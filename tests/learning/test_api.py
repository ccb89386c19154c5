"""The study API: a member's hours, courses, heartbeats, completion and due
cards; for staff the yearly hours of an organisation's members."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from learning import rules
from learning.models import Card, Progress, Question, Review
from learning.selectors.hours import hours_compliance, yearly_hours
from learning.services import study
from organizations.scope import scope_for
from tests import factories
from tests.learning.arrange import make_course

STUDY_URL = reverse("api-me-study")
COURSES_URL = reverse("api-me-courses")
DUE_URL = reverse("api-me-cards-due")
HOURS_URL = reverse("api-study-hours")


def beat_url(course) -> str:
    return reverse("api-me-course-beat", args=[course.pk])


def complete_url(course) -> str:
    return reverse("api-me-course-complete", args=[course.pk])


def answer_url(card) -> str:
    return reverse("api-me-card-answer", args=[card.pk])


def ago(seconds: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=seconds)


def studied(member, course, seconds=None) -> Progress:
    seconds = rules.credit_seconds(course.credit_hours) if seconds is None else seconds
    return Progress.objects.create(
        member=member, course=course, opened_at=ago(3600), seconds=seconds
    )


def make_question(course, answer=(1,)) -> Question:
    return Question.objects.create(
        course=course,
        kind="single",
        text="党的最高理想是什么？",
        options=["甲", "乙", "丙"],
        answer=list(answer),
        explanation="见党章。",
    )


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # Throttle counters live in the cache; a cache of this process keeps
    # other runs sharing Redis out of them.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-learning-api",
        }
    }
    cache.clear()


@pytest.fixture
def api(request):
    def login(role=None) -> APIClient:
        client = APIClient()
        if role is not None:
            client.force_login(request.getfixturevalue(role))
        return client

    return login


@pytest.fixture
def course(branch_a):
    return make_course(branch_a, title="学习党章", credit_hours=Decimal("0.50"))


# Who may call.


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", STUDY_URL),
        ("get", COURSES_URL),
        ("get", DUE_URL),
        ("post", "/api/me/courses/1/beat/"),
        ("post", "/api/me/courses/1/complete/"),
        ("post", "/api/me/cards/1/answer/"),
        ("get", HOURS_URL + "?organization=B-A"),
    ],
)
def test_an_anonymous_caller_is_refused(api, db, method, url):
    response = getattr(api(), method)(url)

    assert response.status_code == 403


@pytest.mark.parametrize("role", ["member_user", "outsider"])
def test_a_caller_without_a_role_is_refused_the_staff_endpoint(api, member, role):
    response = api(role).get(HOURS_URL, {"organization": "B-A"})

    assert response.status_code == 403


def test_a_secretary_of_another_branch_gets_404(api, member, secretary_of_b):
    response = api("secretary_of_b").get(HOURS_URL, {"organization": "B-A"})

    assert response.status_code == 404


def test_an_unknown_organisation_answers_404(api, secretary_of_a):
    response = api("secretary_of_a").get(HOURS_URL, {"organization": "NONE"})

    assert response.status_code == 404


def test_a_course_of_another_branch_answers_404(api, member, branch_b):
    course = make_course(branch_b)
    client = api("member_user")

    assert client.post(beat_url(course), {"tab": "t"}).status_code == 404
    assert client.post(complete_url(course)).status_code == 404
    assert not Progress.objects.exists()


# The member's own study.


def test_my_study_equals_the_selectors_and_the_portal(api, client, member, course):
    studied(member, course)
    study.complete(user=member.user, course=course)
    year = timezone.localdate().year
    client.force_login(member.user)

    body = api("member_user").get(STUDY_URL).json()
    portal = client.get("/study/").context

    assert body["year"] == year
    assert Decimal(body["hours"]) == yearly_hours(member, year) == Decimal("0.50")
    assert Decimal(body["hours"]) == portal["hours"]
    assert body["target"] == portal["target"] == 32
    assert body["required"] == []
    assert body["cards_due"] == portal["cards_due"] == 0


def test_required_courses_carry_deadline_and_state(api, member, branch_a):
    deadline = timezone.localdate() + datetime.timedelta(days=5)
    required = make_course(
        branch_a, title="必修", required_for="all", deadline=deadline
    )

    body = api("member_user").get(STUDY_URL).json()

    assert body["required"] == [
        {
            "course": required.pk,
            "title": "必修",
            "deadline": deadline.isoformat(),
            "state": "due",
        }
    ]


def test_my_courses_list_the_courses_i_may_study_with_my_progress(
    api, member, course, branch_a, branch_b
):
    studied(member, course, seconds=120)
    unopened = make_course(branch_a, title="未学")
    make_course(branch_b, title="别的支部")

    body = api("member_user").get(COURSES_URL).json()

    rows = {row["id"]: row for row in body["results"]}
    assert body["count"] == 2
    assert set(rows) == {course.pk, unopened.pk}
    assert (rows[course.pk]["seconds"], rows[course.pk]["credit_seconds"]) == (
        120,
        1800,
    )
    assert rows[unopened.pk]["seconds"] is None
    assert rows[course.pk]["completed_at"] is None


def test_a_heartbeat_counts_through_the_service(api, member, course):
    study.heartbeat(user=member.user, course=course, tab="tab-1", at=ago(15))

    response = api("member_user").post(beat_url(course), {"tab": "tab-1"})

    assert response.status_code == 200
    assert 14 <= response.json()["seconds"] <= 16
    assert response.json()["seconds"] == Progress.objects.get(member=member).seconds


def test_a_heartbeat_without_a_tab_is_refused(api, member, course):
    response = api("member_user").post(beat_url(course), {})

    assert response.status_code == 400
    assert response.json()["tab"][0]["code"] == "required"


def test_completing_too_early_is_refused_with_a_code(api, member, course):
    studied(member, course, seconds=10)

    response = api("member_user").post(complete_url(course))

    assert response.status_code == 400
    assert response.json()["non_field_errors"][0]["code"] == "not_enough_time"


def test_completing_twice_credits_once(api, member, course):
    studied(member, course)
    client = api("member_user")

    first = client.post(complete_url(course)).json()
    second = client.post(complete_url(course)).json()

    assert first == second
    assert (first["credited_hours"], first["credited_year"]) == (
        "0.50",
        timezone.localdate().year,
    )


# Review cards.


@pytest.fixture
def question(member, course):
    studied(member, course, seconds=0)
    return make_question(course)


def test_due_cards_are_made_and_listed_without_their_answers(api, member, question):
    body = api("member_user").get(DUE_URL).json()

    card = Card.objects.get(member=member, question=question)
    assert body["count"] == 1
    assert body["results"][0] == {
        "id": card.pk,
        "question": question.pk,
        "kind": "single",
        "text": question.text,
        "options": ["甲", "乙", "丙"],
        "due": body["results"][0]["due"],
    }


def test_a_right_answer_is_scheduled_with_the_rating_given(api, member, question):
    client = api("member_user")
    client.get(DUE_URL)
    card = Card.objects.get(member=member)

    response = client.post(
        answer_url(card), {"chosen": [1], "rating": 2}, format="json"
    )

    body = response.json()
    assert (body["correct"], body["rating"], body["answer"]) == (True, 2, [1])
    assert body["explanation"] == "见党章。"
    assert Review.objects.get(card=card).rating == Review.Rating.HARD


def test_a_wrong_answer_is_rated_again(api, member, question):
    client = api("member_user")
    client.get(DUE_URL)
    card = Card.objects.get(member=member)

    body = client.post(answer_url(card), {"chosen": [0]}, format="json").json()

    assert (body["correct"], body["rating"]) == (False, Review.Rating.AGAIN)


def test_answering_a_card_not_due_is_refused(api, member, question):
    client = api("member_user")
    client.get(DUE_URL)
    card = Card.objects.get(member=member)
    client.post(answer_url(card), {"chosen": [1]}, format="json")

    response = client.post(answer_url(card), {"chosen": [1]}, format="json")

    assert response.status_code == 400
    assert response.json()["card"][0]["code"] == "not_due"
    assert Review.objects.count() == 1


def test_another_members_card_answers_404(api, member, question, branch_a):
    other = factories.make_member(branch_a, user=factories.make_user("member3"))
    card = Card.objects.create(member=other, question=question, due=ago(60))

    response = api("member_user").post(answer_url(card), {"chosen": [1]}, format="json")

    assert response.status_code == 404
    assert not Review.objects.exists()


# Staff: hours compliance.


def test_staff_see_the_same_hours_as_the_selector_and_the_portal(
    api, client, member, course, secretary_of_a, branch_a
):
    studied(member, course)
    study.complete(user=member.user, course=course)
    year = timezone.localdate().year
    client.force_login(member.user)
    portal_hours = client.get("/study/").context["hours"]

    body = api("secretary_of_a").get(HOURS_URL, {"organization": "B-A"}).json()

    expected = hours_compliance(
        scope=scope_for(secretary_of_a), organization=branch_a, year=year
    )
    row = next(r for r in body["results"] if r["id"] == member.pk)
    assert Decimal(row["hours"]) == portal_hours == Decimal("0.50")
    assert row["target"] == 32
    assert (body["organization"], body["year"]) == ("B-A", year)
    assert body["count"] == len(expected.members)
    assert (body["at_target"], Decimal(body["share"])) == (
        expected.at_target,
        expected.share,
    )


def test_a_committee_reads_a_branch_below_it_for_another_year(
    api, member, committee_staff
):
    response = api("committee_staff").get(
        HOURS_URL, {"organization": "B-A", "year": 2024}
    )

    assert response.status_code == 200
    assert response.json()["year"] == 2024
    assert [r["hours"] for r in response.json()["results"]] == ["0.00"]
