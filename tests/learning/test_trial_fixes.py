"""Bad input found by trying study as a new user would: each is refused
with a clear error and changes nothing."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from learning.models import Card, OfflineStudy, Question, Review
from learning.selectors.hours import hours_compliance
from learning.services import review, study
from organizations.scope import scope_for
from tests.learning.arrange import make_course
from tests.learning.test_question_import import run, workbook
from tests.learning.test_review import AT, card_for, make_question, open_course

pytestmark = pytest.mark.django_db


def _offline(actor, member, **changes):
    data = {
        "actor": actor,
        "scope": scope_for(actor),
        "member": member,
        "title": "党课：学习党章",
        "studied_on": timezone.localdate() - datetime.timedelta(days=3),
        "hours": "2",
    }
    data.update(changes)
    return study.record_offline_study(**data)


def test_the_same_offline_study_twice_is_refused(member, secretary_of_a):
    _offline(secretary_of_a, member)

    with pytest.raises(ValidationError) as error:
        _offline(secretary_of_a, member)

    assert error.value.code == "duplicate"
    assert OfflineStudy.objects.count() == 1


def test_offline_study_before_joining_the_party_is_refused(member, secretary_of_a):
    with pytest.raises(ValidationError) as error:
        _offline(secretary_of_a, member, studied_on=datetime.date(1990, 1, 1))

    assert error.value.code == "date_too_early"
    assert not OfflineStudy.objects.exists()


def test_a_committee_sees_the_hours_of_its_whole_subtree(
    member, member_of_b, city_committee, committee_staff
):
    compliance = hours_compliance(
        scope=scope_for(committee_staff),
        organization=city_committee,
        year=timezone.localdate().year,
    )

    assert {m.pk for m in compliance.members} == {member.pk, member_of_b.pk}


@pytest.mark.parametrize("chosen", [[99], [-1], [], [True]])
def test_an_answer_naming_no_option_leaves_the_card_untouched(
    member, member_user, branch_a, chosen
):
    course = make_course(branch_a)
    open_course(member, course)
    card = card_for(member, make_question(course))
    due = card.due

    with pytest.raises(review.InvalidChoice):
        review.answer(user=member_user, card_id=card.pk, chosen=chosen, at=AT)

    assert Card.objects.get(pk=card.pk).due == due
    assert not Review.objects.exists()


def test_an_overlong_question_is_a_row_error(secretary_of_a, branch_a):
    course = make_course(branch_a)
    source = workbook(
        ["单选", "题" * 5000, "甲", "乙", "", "", "A"],
        ["单选", "正常的题目", "甲", "乙", "", "", "B"],
    )

    report = run(secretary_of_a, course, source)

    assert [r.status for r in report.rows] == ["error", "ok"]
    assert Question.objects.filter(course=course).count() == 1
