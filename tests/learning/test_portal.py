"""The member's study pages: hours, a course with heartbeats and completion,
and the daily review of due cards."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from learning import rules
from learning.models import Card, Progress, Question, Review
from learning.selectors.hours import yearly_hours
from learning.services import study
from tests import factories
from tests.learning.arrange import make_course

HOME = "/study/"
REVIEW = "/study/review/"


def course_url(course, step="") -> str:
    name = {"": "learning:course", "beat": "learning:beat"}.get(
        step, "learning:complete"
    )
    return reverse(name, args=[course.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def ago(seconds: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=seconds)


def studied(member, course, seconds=None) -> Progress:
    """The member opened the course and the server counted ``seconds``."""
    seconds = rules.credit_seconds(course.credit_hours) if seconds is None else seconds
    return Progress.objects.create(
        member=member, course=course, opened_at=ago(3600), seconds=seconds
    )


def make_question(course, kind="single", options=("甲", "乙", "丙"), answer=(1,)):
    return Question.objects.create(
        course=course,
        kind=kind,
        text="入党誓词宣誓于哪一年写入党章？",
        options=[] if kind == Question.Kind.TRUE_FALSE else list(options),
        answer=list(answer),
        explanation="见党章总纲。",
    )


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def course(branch_a):
    return make_course(branch_a, title="学习党章", credit_hours=Decimal("0.50"))


@pytest.fixture
def other_member_user(branch_b):
    user = factories.make_user("member2")
    factories.make_member(branch_b, user=user, name="赵六")
    return user


# Who may see.


@pytest.mark.parametrize("url", [HOME, REVIEW, "/study/courses/1/"])
def test_an_anonymous_visitor_is_sent_to_log_in(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_a_course_of_another_branch_answers_404(member_client, branch_b):
    course = make_course(branch_b)

    response = member_client.get(course_url(course))

    assert response.status_code == 404
    assert not Progress.objects.exists()


def test_an_unpublished_course_answers_404(member_client, branch_a):
    course = make_course(branch_a, published_at=None)

    assert member_client.get(course_url(course)).status_code == 404
    assert member_client.post(course_url(course, "beat"), {"tab": "t"}).status_code == (
        404
    )


def test_a_course_another_member_may_study_answers_404_to_this_one(
    client, other_member_user, branch_b, member
):
    course = make_course(branch_b)
    client.force_login(member.user)

    response = client.post(course_url(course, "complete"))

    assert response.status_code == 404


# The study page.


def test_the_study_page_shows_hours_target_required_courses_and_due_cards(
    member_client, member, branch_a, course
):
    required = make_course(
        branch_a,
        title="必修课",
        required_for="all",
        deadline=timezone.localdate() + datetime.timedelta(days=10),
    )
    done = studied(member, course)
    study.complete(user=member.user, course=course)
    make_question(course)

    response = member_client.get(HOME)

    assert response.status_code == 200
    assert response.context["hours"] == Decimal("0.50")
    assert response.context["hours"] == yearly_hours(member, timezone.localdate().year)
    assert response.context["target"] == 32
    assert [r.course for r in response.context["required"]] == [required]
    assert [r.state for r in response.context["required"]] == ["due"]
    assert response.context["cards_due"] == 1
    rows = {row.course: row for row in response.context["rows"]}
    assert rows[course].completed and rows[course].progress == done
    assert rows[required].progress is None
    assert 'data-testid="nav-review"' in response.content.decode()


# A course.


def test_opening_a_course_records_it_and_shows_the_counted_time(
    member_client, member, course
):
    response = member_client.get(course_url(course))

    assert response.status_code == 200
    assert Progress.objects.get(member=member, course=course).seconds == 0
    assert response.context["counted"] == "0:00:00"
    assert response.context["credit"] == "0:30:00"
    assert 'src="/static/js/study.js"' in response.content.decode()


def test_the_body_is_rendered_without_scripts(member_client, branch_a):
    course = make_course(
        branch_a, body='<p onclick="x()">学习<script>alert(1)</script></p>'
    )

    page = member_client.get(course_url(course)).content.decode()

    assert "<p>学习</p>" in page
    assert "alert(1)" not in page and "onclick" not in page


def test_only_web_video_links_are_offered(member_client, branch_a):
    course = make_course(branch_a, video_url="ftp://files.example.cn/v.mp4")

    response = member_client.get(course_url(course))

    assert response.context["video_url"] == ""


def test_a_heartbeat_counts_time_through_the_service(member_client, member, course):
    study.heartbeat(user=member.user, course=course, tab="tab-1", at=ago(20))

    response = member_client.post(course_url(course, "beat"), {"tab": "tab-1"})

    assert response.status_code == 200
    body = response.json()
    assert 19 <= body["seconds"] <= 21
    assert body["counted"] == f"0:00:{body['seconds']:02d}"
    assert body["completed"] is False
    assert Progress.objects.get(member=member).seconds == body["seconds"]


def test_a_second_tab_counts_nothing(member_client, member, course):
    study.heartbeat(user=member.user, course=course, tab="tab-1", at=ago(20))
    study.heartbeat(user=member.user, course=course, tab="tab-1", at=ago(10))

    response = member_client.post(course_url(course, "beat"), {"tab": "tab-2"})

    assert response.json()["seconds"] == 10


def test_a_heartbeat_without_a_tab_is_refused(member_client, course):
    response = member_client.post(course_url(course, "beat"), {})

    assert response.status_code == 400
    assert response.json() == {"error": ["A heartbeat names its tab."]}


def test_a_heartbeat_must_be_posted(member_client, course):
    assert member_client.get(course_url(course, "beat")).status_code == 405


def test_completing_too_early_is_refused_with_a_message(member_client, member, course):
    studied(member, course, seconds=60)

    response = member_client.post(course_url(course, "complete"), follow=True)

    assert messages_of(response) == ["Study the course longer before completing it."]
    assert Progress.objects.get(member=member).completed_at is None


def test_completing_credits_the_hours_once(member_client, member, course):
    studied(member, course)
    year = timezone.localdate().year

    first = member_client.post(course_url(course, "complete"), follow=True)
    second = member_client.post(course_url(course, "complete"), follow=True)

    assert messages_of(first) == ["Course completed; its hours are credited."]
    assert messages_of(second) == ["Course completed; its hours are credited."]
    progress = Progress.objects.get(member=member)
    assert (progress.credited_hours, progress.credited_year) == (Decimal("0.50"), year)
    assert yearly_hours(member, year) == Decimal("0.50")
    assert 'data-testid="credited"' in second.content.decode()


# The daily review.


@pytest.fixture
def opened(member, course):
    return studied(member, course, seconds=0)


def test_the_review_page_shows_the_next_due_card(member_client, opened, course):
    question = make_question(course)

    response = member_client.get(REVIEW)

    card = response.context["card"]
    assert (card.question, response.context["remaining"]) == (question, 1)
    assert [c.label for c in response.context["choices"]] == ["甲", "乙", "丙"]
    assert 'type="radio" name="chosen"' in response.content.decode()


def test_a_multiple_choice_question_offers_checkboxes(member_client, opened, course):
    make_question(course, kind="multiple", answer=(0, 2))

    page = member_client.get(REVIEW).content.decode()

    assert 'type="checkbox" name="chosen"' in page


def test_a_true_false_question_offers_true_and_false(member_client, opened, course):
    make_question(course, kind="true_false", answer=(1,))

    response = member_client.get(REVIEW)

    assert [(c.value, c.label) for c in response.context["choices"]] == [
        (1, "True"),
        (0, "False"),
    ]


def test_a_right_answer_is_rated_as_the_member_says(
    member_client, member, opened, course
):
    question = make_question(course)
    member_client.get(REVIEW)
    card = Card.objects.get(member=member, question=question)

    response = member_client.post(
        REVIEW, {"card": card.pk, "chosen": ["1"], "rating": "4"}
    )

    assert response.status_code == 200
    assert response.context["answered"].correct is True
    assert Review.objects.get(card=card).rating == Review.Rating.EASY
    page = response.content.decode()
    assert "见党章总纲。" in page and 'data-correct="true"' in page
    assert response.context["card"] is None
    assert response.context["remaining"] == 0


def test_a_wrong_answer_is_rated_again_and_shows_the_explanation(
    member_client, member, opened, course
):
    question = make_question(course)
    member_client.get(REVIEW)
    card = Card.objects.get(member=member, question=question)

    response = member_client.post(
        REVIEW, {"card": card.pk, "chosen": ["0"], "rating": "4"}
    )

    assert response.context["answered"].correct is False
    assert Review.objects.get(card=card).rating == Review.Rating.AGAIN
    assert 'data-testid="explanation"' in response.content.decode()


def test_answering_twice_is_refused_as_not_due(member_client, member, opened, course):
    question = make_question(course)
    member_client.get(REVIEW)
    card = Card.objects.get(member=member, question=question)
    member_client.post(REVIEW, {"card": card.pk, "chosen": ["1"]})

    response = member_client.post(
        REVIEW, {"card": card.pk, "chosen": ["1"]}, follow=True
    )

    assert messages_of(response) == [
        "This card was answered already; here is the next."
    ]
    assert Review.objects.filter(card=card).count() == 1


def test_an_answer_without_a_choice_is_asked_again(
    member_client, member, opened, course
):
    question = make_question(course)
    member_client.get(REVIEW)
    card = Card.objects.get(member=member, question=question)

    response = member_client.post(REVIEW, {"card": card.pk}, follow=True)

    assert messages_of(response) == ["Choose an answer."]
    assert not Review.objects.exists()


def test_another_members_card_answers_404(client, member, opened, course, branch_a):
    other = factories.make_member(branch_a, user=factories.make_user("member3"))
    question = make_question(course)
    Progress.objects.create(member=other, course=course, opened_at=ago(60))
    card = Card.objects.create(member=other, question=question, due=ago(60))
    client.force_login(member.user)

    response = client.post(REVIEW, {"card": card.pk, "chosen": ["1"]})

    assert response.status_code == 404
    assert not Review.objects.exists()
