"""Demo study: the demo member has courses and questions to try."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from learning.models import Course, Question
from learning.selectors.study import courses_to_study
from members.models import Member


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded(db):
    call_command("seed_demo", "--members", "120", "--seed", "5", stdout=StringIO())


def test_the_demo_member_has_courses_to_study_and_questions(seeded):
    member = Member.objects.get(user__username="demo_member")
    visible = courses_to_study(member, at=timezone.now(), on=timezone.localdate())
    titles = {c.title for c in visible}
    assert len(titles) == Course.objects.count() == 2
    assert Question.objects.count() == 4
