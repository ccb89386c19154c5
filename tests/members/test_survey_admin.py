"""The needs survey and yearly report admin, within each actor's scope."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from members import services
from members.models import AuditEvent, Difficulty, Intention, Mobility, NeedsSurvey
from organizations.models import Region
from tests import factories

DAY = datetime.timedelta(days=1)
SURVEYS_URL = reverse("admin:members_needssurvey_changelist")
ADD_URL = reverse("admin:members_needssurvey_add")
REPORTS_URL = reverse("admin:members_yearlyreport_changelist")


def survey_url(survey):
    return reverse("admin:members_needssurvey_change", args=[survey.pk])


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def go_away(member, username):
    user = member.user or factories.make_user(username)
    member.user = user
    member.save()
    services.mobility_register(
        actor=user,
        member=member,
        destination_region=Region.objects.get(code="430100"),
        left_on=timezone.localdate() - 20 * DAY,
        reason=Mobility.Reason.WORK,
        contact="长沙市芙蓉区某小区 13900001111",
    )
    return user


@pytest.fixture
def survey_of_a(branch_a, secretary_of_a):
    return services.survey_publish(
        actor=secretary_of_a, organization=branch_a, title="第一支部调查"
    )


def test_a_secretary_publishes_a_survey_through_the_service(
    client, branch_a, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        ADD_URL, {"organization": branch_a.pk, "title": " 2026年调查 ", "closes_on": ""}
    )

    survey = NeedsSurvey.objects.get()
    assert response.status_code == 302
    assert (survey.title, survey.organization, survey.published_by) == (
        "2026年调查",
        branch_a,
        secretary_of_a,
    )
    assert (
        AuditEvent.objects.filter(
            action="survey.publish", actor=secretary_of_a, organization=branch_a
        ).count()
        == 1
    )


def test_the_add_form_offers_only_organisations_the_secretary_writes(
    client, branch_a, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(ADD_URL)
    refused = client.post(
        ADD_URL, {"organization": branch_b.pk, "title": "调查", "closes_on": ""}
    )

    choices = response.context["adminform"].form.fields["organization"].queryset
    assert list(choices) == [branch_a]
    assert refused.status_code == 200
    assert NeedsSurvey.objects.count() == 0


def test_the_provincial_viewer_cannot_add_a_survey(
    client, province_a, provincial_viewer
):
    client.force_login(provincial_viewer)

    get = client.get(ADD_URL)
    post = client.post(
        ADD_URL, {"organization": province_a.pk, "title": "调查", "closes_on": ""}
    )

    assert (get.status_code, post.status_code) == (403, 403)
    assert NeedsSurvey.objects.count() == 0


def test_a_published_survey_is_read_only(client, survey_of_a, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(survey_url(survey_of_a), {"title": "改名"})

    assert response.status_code == 403
    assert NeedsSurvey.objects.get().title == "第一支部调查"


def test_another_branchs_secretary_gets_404_on_the_survey(
    client, survey_of_a, secretary_of_b
):
    client.force_login(secretary_of_b)

    page = client.get(survey_url(survey_of_a))
    listing = client.get(SURVEYS_URL)

    assert page.status_code == 404
    assert list(listing.context["cl"].result_list) == []


def test_the_survey_page_shows_the_totals_and_the_answers(
    client, city_committee, committee_staff, member, member_of_b, secretary_of_a
):
    user_a = go_away(member, "member_a")
    user_b = go_away(member_of_b, "member_b")
    survey = services.survey_publish(
        actor=committee_staff, organization=city_committee, title="区委调查"
    )
    services.survey_answer(
        actor=user_a,
        survey=survey,
        intention=Intention.STAY,
        difficulties=[Difficulty.HOUSING, Difficulty.WORK],
    )
    services.survey_answer(
        actor=user_b,
        survey=survey,
        intention=Intention.RETURN,
        difficulties=[Difficulty.WORK],
    )

    client.force_login(committee_staff)
    committee = client.get(survey_url(survey))
    client.force_login(secretary_of_a)
    branch = client.get(SURVEYS_URL)

    assert committee.status_code == 200
    assert committee.context["aggregate"] == {
        "audience": 2,
        "answered": 2,
        "intentions": {"stay": 1, "return": 1},
        "difficulties": {"work": 2, "housing": 1},
    }
    assert dict(committee.context["intention_counts"]) == {
        "Stay where I am": 1,
        "Return home": 1,
        "Move on elsewhere": 0,
    }
    assert [a.member.name for a, _ in committee.context["answers"]] == sorted(
        ["张三", "李四"]
    )
    assert list(branch.context["cl"].result_list) == []


def test_yearly_reports_list_only_members_in_scope(
    client, member, member_of_b, secretary_of_a, committee_staff
):
    user_a = go_away(member, "member_a")
    user_b = go_away(member_of_b, "member_b")
    services.yearly_report_file(actor=user_a, body="在长沙务工")
    services.yearly_report_file(actor=user_b, body="在长沙读书")

    client.force_login(secretary_of_a)
    secretary = client.get(REPORTS_URL)
    client.force_login(committee_staff)
    committee = client.get(REPORTS_URL)

    assert [r.member.name for r in secretary.context["cl"].result_list] == ["张三"]
    assert sorted(r.member.name for r in committee.context["cl"].result_list) == [
        "张三",
        "李四",
    ]


def test_yearly_reports_cannot_be_added_and_out_of_scope_ones_answer_404(
    client, member, secretary_of_b
):
    user_a = go_away(member, "member_a")
    report = services.yearly_report_file(actor=user_a, body="在长沙务工")
    client.force_login(secretary_of_b)

    add = client.get(reverse("admin:members_yearlyreport_add"))
    page = client.get(reverse("admin:members_yearlyreport_change", args=[report.pk]))

    assert (add.status_code, page.status_code) == (403, 404)
