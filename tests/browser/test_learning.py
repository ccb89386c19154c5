"""A member studies a short course on a phone until the server counts
enough time, completes it, reviews its card and sees the hours added.

The heartbeats are real: static/js/study.js sends them while the page is
visible and the member scrolls; only the periods are made short.
"""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from learning.models import Progress, Question, Review
from learning.selectors.hours import yearly_hours
from tests import factories
from tests.learning.arrange import make_course

pytestmark = pytest.mark.browser

# 0.01 hours is 36 seconds of credit; a tenth of it completes the course.
CREDIT = Decimal("0.01")
NEEDED_SECONDS = 4
WAIT_SECONDS = 30


@pytest.fixture
def quick_study(settings):
    settings.LIUDONG_STUDY_HEARTBEAT_SECONDS = 1
    settings.LIUDONG_STUDY_IDLE_SECONDS = 5
    settings.LIUDONG_STUDY_COMPLETION_SHARE = 0.1


def log_in_on_phone(page, url, login):
    page.goto(f"{url}/")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{url}/")


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def seconds_shown(page) -> int:
    hours, minutes, seconds = page.get_by_test_id("counted").inner_text().split(":")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds)


def read_until_counted(page, seconds: int) -> int:
    """Scroll now and then, as a reader does, until ``seconds`` show."""
    for _ in range(WAIT_SECONDS * 2):
        page.mouse.wheel(0, 40)
        page.wait_for_timeout(500)
        if seconds_shown(page) >= seconds:
            break
    return seconds_shown(page)


def test_a_member_studies_a_course_reviews_it_and_sees_the_hours(
    live_server, phone_page, artifacts, quick_study
):
    branch = factories.make_organization(
        factories.make_organization(code="P-X", kind="committee", region="110000"),
        code="B-X",
        name="第一支部",
    )
    member = factories.make_member(
        branch, user=factories.make_user("reader"), name="李学", phone="13700137000"
    )
    course = make_course(
        branch,
        title="学习新党章",
        credit_hours=CREDIT,
        body="<h2>总纲</h2>" + "<p>中国共产党是中国工人阶级的先锋队。</p>" * 30,
    )
    question = Question.objects.create(
        course=course,
        kind="single",
        text="中国共产党是谁的先锋队？",
        options=["农民阶级", "中国工人阶级", "知识分子"],
        answer=[1],
        explanation="党章总纲第一句。",
    )
    page = phone_page

    # The member finds the course from the portal and opens it.
    log_in_on_phone(page, live_server.url, "13700137000")
    page.get_by_test_id("nav-study").click()
    page.wait_for_url(f"{live_server.url}/study/")
    assert page.get_by_test_id("hours").inner_text() == "0.00"
    page.get_by_test_id(f"course-{course.pk}").get_by_test_id("course-title").click()
    page.wait_for_url(f"{live_server.url}/study/courses/{course.pk}/")
    assert seconds_shown(page) == 0

    # Completing at once is refused: no time has been counted yet.
    page.get_by_test_id("complete").click()
    page.wait_for_url(f"{live_server.url}/study/courses/{course.pk}/")
    assert page.locator(".message--error").count() == 1

    # Reading counts: study.js beats and shows what the server counted.
    counted = read_until_counted(page, NEEDED_SECONDS)
    progress = Progress.objects.get(member=member, course=course)
    assert counted >= NEEDED_SECONDS
    assert progress.seconds >= counted
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "study-course.png", full_page=True)

    page.get_by_test_id("complete").click()
    page.wait_for_url(f"{live_server.url}/study/courses/{course.pk}/")
    assert page.get_by_test_id("completed").is_visible()
    assert page.get_by_test_id("credited").is_visible()

    # The course's question is due: the member answers it right.
    page.goto(f"{live_server.url}/study/")
    assert re.search(r"\b1\b", page.get_by_test_id("cards-due").inner_text())
    page.get_by_test_id("nav-review").click()
    page.wait_for_url(f"{live_server.url}/study/review/")
    assert page.get_by_test_id("question").inner_text() == question.text
    page.locator("label[for=chosen-1]").click()
    page.locator("label[for=rating-4]").click()
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "study-review.png", full_page=True)
    page.get_by_test_id("answer").click()
    result = page.get_by_test_id("result")
    assert result.get_attribute("data-correct") == "true"
    assert page.get_by_test_id("explanation").inner_text() == "党章总纲第一句。"
    assert page.get_by_test_id("no-cards").is_visible()
    assert Review.objects.get().rating == Review.Rating.EASY

    # Back on the study page the course's hours are added.
    page.locator(".back a").click()
    page.wait_for_url(f"{live_server.url}/study/")
    year = timezone.localdate().year
    assert page.get_by_test_id("hours").inner_text() == "0.01"
    assert yearly_hours(member, year) == CREDIT
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "study-home.png", full_page=True)
