"""The portal side of going out, 报到, transfers, yearly reports, surveys."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from members import services
from members.models import (
    Difficulty,
    Intention,
    Mobility,
    MobilityStatus,
    SurveyAnswer,
    YearlyReport,
)
from members.selectors import current_organization
from organizations import services as transfers
from organizations.models import Region, Transfer
from tests import factories

DAY = datetime.timedelta(days=1)
# English pages, so that assertions on our own msgids hold once the Chinese
# catalogue exists.
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}

MOBILITY = "/mobility/"
REGISTER = "/mobility/register/"
TRANSFERS = "/transfers/"
YEARLY_REPORT = "/yearly-report/"
SURVEYS = "/surveys/"


def today():
    return timezone.localdate()


def report_url(stay):
    return f"/mobility/{stay.pk}/report/"


def move_on_url(stay):
    return f"/mobility/{stay.pk}/move-on/"


def return_url(stay):
    return f"/mobility/{stay.pk}/return/"


def transfer_url(letter):
    return f"/transfers/{letter.pk}/"


def survey_url(survey):
    return f"/surveys/{survey.pk}/"


def errors_of(response):
    return {
        field: [str(e) for e in errors]
        for field, errors in response.context["form"].errors.items()
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Fixtures create users; the client logs in with force_login.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def changsha():
    return Region.objects.get(code="430100")


@pytest.fixture
def mobile_branch(province_b):
    return factories.make_organization(
        province_b,
        code="M-C",
        kind="mobile_branch",
        region="430103",
        name="流动党员支部",
    )


@pytest.fixture
def secretary_of_c(branch_c):
    user = factories.make_user("sec_c", is_staff=True)
    factories.make_role(user, branch_c, "secretary")
    return user


def register(actor, member, region, **kw):
    fields = dict(
        actor=actor,
        member=member,
        destination_region=region,
        left_on=today() - 20 * DAY,
        reason=Mobility.Reason.WORK,
        contact="长沙市芙蓉区某小区 13900001111",
    )
    fields.update(kw)
    return services.mobility_register(**fields)


@pytest.fixture
def away(member, member_user, changsha):
    return register(member_user, member, changsha)


@pytest.fixture
def placed(away, branch_c, member_user, secretary_of_c):
    services.mobility_report(
        actor=member_user, mobility=away, inflow_organization=branch_c
    )
    return services.mobility_accept(actor=secretary_of_c, mobility=away)


@pytest.fixture
def others_stay(branch_a, changsha):
    other = factories.make_member(
        branch_a, user=factories.make_user("other"), name="赵六"
    )
    return register(other.user, other, changsha)


def stay_form(**overrides):
    data = {
        "province": "430000",
        "destination_region": "430102",
        "left_on": today().isoformat(),
        "expected_return_on": "",
        "reason": "work",
        "occupation": "70",
        "work_unit": "美团配送芙蓉站",
        "contact": "芙蓉区五一大道 13900001111",
    }
    data.update(overrides)
    return data


def issue(member, to_organization, secretary, **kw):
    letter = transfers.transfer_create(
        actor=secretary,
        member=member,
        dues_paid_through=transfers.dues_required_through(today()),
        to_organization=to_organization,
        **kw,
    )
    return transfers.transfer_issue(actor=secretary, transfer=letter)


@pytest.fixture
def letter(member, branch_b, secretary_of_a):
    return issue(member, branch_b, secretary_of_a)


@pytest.fixture
def accepted_letter(letter, secretary_of_b):
    return transfers.transfer_accept(actor=secretary_of_b, transfer=letter)


@pytest.fixture
def survey(city_committee, committee_staff):
    return services.survey_publish(
        actor=committee_staff,
        organization=city_committee,
        title="2026年流动党员动态、意向、困难调查",
    )


# Who may see the pages


ANONYMOUS_URLS = [
    MOBILITY,
    REGISTER,
    "/mobility/1/report/",
    "/mobility/1/move-on/",
    "/mobility/1/return/",
    TRANSFERS,
    "/transfers/1/",
    YEARLY_REPORT,
    SURVEYS,
    "/surveys/1/",
]


@pytest.mark.parametrize("url", ANONYMOUS_URLS)
def test_an_anonymous_visitor_is_sent_to_log_in(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"
    assert "no-store" in response["Cache-Control"]


def test_an_anonymous_visitor_cannot_register_going_out(client, db):
    response = client.post(REGISTER, stay_form())

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={REGISTER}"
    assert Mobility.objects.count() == 0


def test_a_user_without_a_member_record_is_pointed_to_the_admin(client, outsider):
    client.force_login(outsider)

    response = client.post(REGISTER, stay_form())

    assert response.templates[0].name == "portal/no_member.html"
    assert Mobility.objects.count() == 0


def test_every_page_is_never_cached(member_client, away, letter, survey):
    urls = [
        MOBILITY,
        report_url(away),
        move_on_url(away),
        return_url(away),
        TRANSFERS,
        transfer_url(letter),
        YEARLY_REPORT,
        SURVEYS,
        survey_url(survey),
    ]

    responses = {url: member_client.get(url) for url in urls}

    assert {url: r.status_code for url, r in responses.items()} == dict.fromkeys(
        urls, 200
    )
    for response in responses.values():
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


def test_the_registration_page_is_never_cached(member_client):
    response = member_client.get(REGISTER, {"province": "430000"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_home_page_links_to_each_service(member_client):
    response = member_client.get("/", **ENGLISH)

    content = response.content.decode()
    for url, name in [
        (MOBILITY, "Going out"),
        (TRANSFERS, "My transfer"),
        (YEARLY_REPORT, "Yearly report"),
        (SURVEYS, "Surveys"),
    ]:
        assert f'href="{url}"' in content
        assert name in content


def test_a_form_posted_without_the_csrf_token_is_refused(member, member_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member_user)

    response = client.post(REGISTER, stay_form())

    assert response.status_code == 403
    assert Mobility.objects.count() == 0


@pytest.mark.parametrize("path", ["report", "move-on", "return"])
def test_another_members_stay_answers_not_found(member_client, others_stay, path):
    url = f"/mobility/{others_stay.pk}/{path}/"

    got = member_client.get(url)
    posted = member_client.post(url, {"inflow_organization": "1", **stay_form()})

    assert (got.status_code, posted.status_code) == (404, 404)
    others_stay.refresh_from_db()
    assert others_stay.status == MobilityStatus.REGISTERED
    assert others_stay.inflow_organization is None


# Registering going out


def test_registering_starts_by_choosing_a_province(member_client):
    response = member_client.get(REGISTER, **ENGLISH)

    assert response.status_code == 200
    assert response.context["form"].province_region is None
    content = response.content.decode()
    assert 'name="province"' in content
    assert 'name="destination_region"' not in content
    assert "Step 1 of 2: where are you going?" in content


def test_the_cities_and_counties_of_the_chosen_province_are_offered(member_client):
    response = member_client.get(REGISTER, {"province": "430000"}, **ENGLISH)

    form = response.context["form"]
    assert form.province_region.name == "湖南省"
    choices = form.fields["destination_region"].choices
    assert choices[0] == ("", "Choose a city or county")
    changsha = dict(choices[1:])["长沙市"]
    assert changsha[:3] == [
        ("430100", "长沙市 (whole city)"),
        ("430102", "芙蓉区"),
        ("430103", "天心区"),
    ]
    codes = [code for _name, group in choices[1:] for code, _label in group]
    assert all(code.startswith("43") for code in codes)
    assert 'value="430000"' in response.content.decode()


def test_districts_directly_under_a_municipality_are_offered_ungrouped(
    member_client,
):
    response = member_client.get(REGISTER, {"province": "110000"})

    choices = response.context["form"].fields["destination_region"].choices
    assert choices[1] == ("110101", "东城区")


def test_an_unknown_province_shows_the_first_step_again(member_client):
    response = member_client.get(REGISTER, {"province": "999999"}, **ENGLISH)

    assert response.context["form"].province_region is None
    assert "Choose a province from the list." in response.content.decode()


def test_a_member_registers_going_out(member_client, member, member_user, branch_a):
    response = member_client.post(REGISTER, stay_form(expected_return_on="2099-12-31"))

    assert response.status_code == 302
    assert response["Location"] == MOBILITY
    stay = Mobility.objects.get()
    assert (stay.member, stay.outflow_organization, stay.destination_region_id) == (
        member,
        branch_a,
        "430102",
    )
    assert (stay.left_on, stay.expected_return_on) == (
        today(),
        datetime.date(2099, 12, 31),
    )
    assert (stay.reason, stay.occupation_id, stay.work_unit) == (
        "work",
        "70",
        "美团配送芙蓉站",
    )
    assert stay.contact == "芙蓉区五一大道 13900001111"
    assert (stay.status, stay.registered_by, stay.confirmed_on) == (
        MobilityStatus.REGISTERED,
        member_user,
        None,
    )


def test_after_registering_the_page_shows_it_waits_for_the_branch(member_client):
    response = member_client.post(REGISTER, stay_form(), follow=True, **ENGLISH)

    content = response.content.decode()
    assert "Your registration was sent to your branch secretary." in content
    assert "湖南省长沙市芙蓉区" in content
    assert "Waiting for your branch secretary" in content
    assert '<span class="badge badge--registered" data-testid="mobility-status">' in (
        content
    )


def test_a_return_before_leaving_is_refused_and_nothing_is_saved(member_client):
    response = member_client.post(
        REGISTER,
        stay_form(left_on="2026-03-10", expected_return_on="2026-03-01"),
        **ENGLISH,
    )

    assert response.status_code == 200
    assert errors_of(response) == {
        "expected_return_on": ["The return cannot come before leaving."]
    }
    content = response.content.decode()
    assert "The return cannot come before leaving." in content
    assert "Nothing was saved. Please correct the marked fields." in content
    assert Mobility.objects.count() == 0


def test_a_destination_outside_the_chosen_province_is_refused(member_client):
    response = member_client.post(
        REGISTER, stay_form(destination_region="110101"), **ENGLISH
    )

    assert response.status_code == 200
    assert list(errors_of(response)) == ["destination_region"]
    assert Mobility.objects.count() == 0


def test_a_registration_without_a_contact_is_refused(member_client):
    response = member_client.post(REGISTER, stay_form(contact=""), **ENGLISH)

    assert errors_of(response) == {"contact": ["This field is required."]}
    assert Mobility.objects.count() == 0


def test_a_member_already_away_is_sent_to_their_stay(member_client, away):
    response = member_client.post(REGISTER, stay_form(), follow=True, **ENGLISH)

    assert response.redirect_chain == [(MOBILITY, 302)]
    assert "You are already registered as away." in response.content.decode()
    assert Mobility.objects.count() == 1


# The stay page


def test_a_member_who_is_not_away_is_offered_to_register(member_client):
    response = member_client.get(MOBILITY, **ENGLISH)

    content = response.content.decode()
    assert "You are not registered as away." in content
    assert f'href="{REGISTER}"' in content


def test_a_confirmed_stay_shows_the_date_of_confirmation(
    member_client, away, secretary_of_a
):
    services.mobility_confirm(actor=secretary_of_a, mobility=away)

    response = member_client.get(MOBILITY, **ENGLISH)

    content = response.content.decode()
    assert "Waiting for your branch secretary" not in content
    assert "Confirmed by your branch" in content
    assert "湖南省长沙市" in content
    assert f'href="{report_url(away)}"' in content


def test_a_placed_member_sees_the_inflow_organisation(member_client, placed):
    response = member_client.get(MOBILITY, **ENGLISH)

    content = response.content.decode()
    assert 'data-testid="inflow-organization">长沙支部' in content
    assert "Reported to the inflow organization" in content
    assert f'href="{report_url(placed)}"' not in content


def test_the_stay_page_shows_no_one_elses_stay(member_client, others_stay):
    response = member_client.get(MOBILITY, **ENGLISH)

    content = response.content.decode()
    assert "You are not registered as away." in content
    assert "湖南省长沙市" not in content
    assert f"/mobility/{others_stay.pk}/" not in content


# Reporting to an inflow organisation (报到)


def test_the_organisations_of_the_destination_are_listed_mobile_branches_first(
    member_client, away, branch_c, mobile_branch, branch_b
):
    response = member_client.get(report_url(away), **ENGLISH)

    assert response.context["organizations"] == [mobile_branch, branch_c]
    assert response.context["more"] is False
    content = response.content.decode()
    assert "Mobile-member branch" in content
    assert "第二支部" not in content


def test_a_search_narrows_the_list_of_organisations(
    member_client, away, branch_c, mobile_branch
):
    response = member_client.get(report_url(away), {"q": "流动"})

    assert response.context["organizations"] == [mobile_branch]


def test_a_long_list_of_organisations_is_cut_and_says_so(
    member_client, away, province_b, settings
):
    for n in range(31):
        factories.make_organization(province_b, region="430102", name=f"支部{n:02d}")

    response = member_client.get(report_url(away), **ENGLISH)

    assert len(response.context["organizations"]) == 30
    assert response.context["more"] is True
    assert "More organisations match." in response.content.decode()


def test_a_member_reports_to_an_inflow_organisation(member_client, away, mobile_branch):
    response = member_client.post(
        report_url(away), {"inflow_organization": mobile_branch.pk}, follow=True
    )

    away.refresh_from_db()
    assert (away.inflow_organization, away.report_requested_on, away.reported_on) == (
        mobile_branch,
        today(),
        None,
    )
    assert away.status == MobilityStatus.REGISTERED
    assert response.redirect_chain == [(MOBILITY, 302)]
    assert 'data-testid="mobility-status">Awaiting acceptance' in (
        member_client.get(MOBILITY, **ENGLISH).content.decode()
    )


def test_a_report_to_an_organisation_elsewhere_is_refused(
    member_client, away, branch_b
):
    response = member_client.post(
        report_url(away), {"inflow_organization": branch_b.pk}, **ENGLISH
    )

    assert response.status_code == 200
    assert errors_of(response) == {
        "inflow_organization": [
            "Select a valid choice. That choice is not one of the available choices."
        ]
    }
    away.refresh_from_db()
    assert away.inflow_organization is None


def test_a_report_without_a_choice_is_refused(member_client, away, branch_c):
    response = member_client.post(report_url(away), {}, **ENGLISH)

    assert errors_of(response) == {
        "inflow_organization": ["Choose the organisation you report to."]
    }
    assert "Choose the organisation you report to." in response.content.decode()
    away.refresh_from_db()
    assert away.inflow_organization is None


def test_a_member_may_choose_another_organisation_until_accepted(
    member_client, away, branch_c, mobile_branch, member_user
):
    services.mobility_report(
        actor=member_user, mobility=away, inflow_organization=branch_c
    )

    page = member_client.get(report_url(away))
    member_client.post(report_url(away), {"inflow_organization": mobile_branch.pk})

    assert page.context["selected"] == str(branch_c.pk)
    away.refresh_from_db()
    assert away.inflow_organization == mobile_branch


def test_once_accepted_the_report_page_sends_the_member_back(member_client, placed):
    response = member_client.get(report_url(placed), follow=True, **ENGLISH)

    assert response.redirect_chain == [(MOBILITY, 302)]
    assert "You have already been accepted by an inflow organisation." in (
        response.content.decode()
    )


# Moving on and returning


def test_a_member_moves_on_to_a_third_place(member_client, placed):
    response = member_client.post(
        move_on_url(placed),
        stay_form(
            province="440000",
            destination_region="440305",
            contact="深圳市南山区 13900002222",
        ),
    )

    assert response.status_code == 302
    placed.refresh_from_db()
    following = Mobility.objects.get(previous=placed)
    assert (placed.status, placed.ended_on) == (MobilityStatus.MOVED_ON, today())
    assert (following.status, following.destination_region_id) == (
        MobilityStatus.REGISTERED,
        "440305",
    )
    assert following.contact == "深圳市南山区 13900002222"


def test_the_move_on_form_starts_from_the_current_province_and_contact(
    member_client, away
):
    response = member_client.get(move_on_url(away))

    assert response.context["chooser"]["province"].value() == "430000"
    assert response.context["form"].initial["contact"] == away.contact


def test_moving_on_before_arriving_is_refused_and_nothing_changes(member_client, away):
    too_early = (away.left_on - DAY).isoformat()

    response = member_client.post(
        move_on_url(away), stay_form(left_on=too_early), **ENGLISH
    )

    assert response.status_code == 200
    assert errors_of(response) == {
        "left_on": ["A stay cannot end before the member left."]
    }
    away.refresh_from_db()
    assert away.status == MobilityStatus.REGISTERED
    assert Mobility.objects.count() == 1


def test_a_member_records_their_return(member_client, placed):
    response = member_client.post(
        return_url(placed), {"returned_on": today().isoformat()}, follow=True, **ENGLISH
    )

    placed.refresh_from_db()
    assert (placed.status, placed.ended_on) == (MobilityStatus.RETURNED, today())
    assert "Welcome back. Your return was recorded." in response.content.decode()
    assert "You are not registered as away." in response.content.decode()


def test_a_return_in_the_future_is_refused(member_client, away):
    response = member_client.post(
        return_url(away), {"returned_on": (today() + DAY).isoformat()}, **ENGLISH
    )

    assert errors_of(response) == {"returned_on": ["The date is in the future."]}
    away.refresh_from_db()
    assert away.status == MobilityStatus.REGISTERED


def test_an_ended_stay_allows_no_more_changes(member_client, away, member_user):
    services.mobility_return(actor=member_user, mobility=away)

    response = member_client.post(
        return_url(away), {"returned_on": today().isoformat()}, follow=True, **ENGLISH
    )

    assert response.redirect_chain == [(MOBILITY, 302)]
    assert "This stay has ended." in response.content.decode()


# My transfer


def test_a_member_sees_their_letters_only(
    member_client, letter, member_of_b, branch_a, secretary_of_b
):
    others = issue(member_of_b, branch_a, secretary_of_b)

    response = member_client.get(TRANSFERS, **ENGLISH)

    assert list(response.context["transfers"]) == [letter]
    content = response.content.decode()
    assert letter.number in content
    assert others.number not in content
    assert "第一支部 → 第二支部" in content


def test_another_members_letter_answers_not_found(
    member_client, member_of_b, branch_a, secretary_of_b
):
    others = issue(member_of_b, branch_a, secretary_of_b)

    got = member_client.get(transfer_url(others))
    posted = member_client.post(transfer_url(others), {"arrived": "on"})

    assert (got.status_code, posted.status_code) == (404, 404)
    others.refresh_from_db()
    assert others.state == Transfer.State.ISSUED


def test_a_letter_shows_where_it_stands_and_its_history(member_client, letter):
    response = member_client.get(transfer_url(letter), **ENGLISH)

    content = response.content.decode()
    assert 'data-testid="transfer-state">Issued' in content
    assert response.context["transfer"].valid_until == today() + 30 * DAY
    assert "The receiving organisation must accept it by" in content
    assert [e.to_state for e in response.context["history"]] == ["draft", "issued"]
    assert response.context["may_report"] is False
    assert 'name="arrived"' not in content
    assert "sec_a" not in content


def test_a_member_reports_arrival_on_an_accepted_letter(
    member_client, accepted_letter, member, branch_b
):
    response = member_client.post(
        transfer_url(accepted_letter), {"arrived": "on"}, follow=True, **ENGLISH
    )

    accepted_letter.refresh_from_db()
    assert accepted_letter.state == Transfer.State.REPORTED
    assert current_organization(member) == branch_b
    assert "Your arrival was recorded." in response.content.decode()
    assert [e.to_state for e in response.context["history"]] == [
        "draft",
        "issued",
        "accepted",
        "reported",
    ]


def test_arrival_must_be_confirmed_with_the_tick(
    member_client, accepted_letter, member, branch_a
):
    response = member_client.post(transfer_url(accepted_letter), {}, **ENGLISH)

    assert errors_of(response) == {"arrived": ["Tick the box to confirm your arrival."]}
    accepted_letter.refresh_from_db()
    assert accepted_letter.state == Transfer.State.ACCEPTED
    assert current_organization(member) == branch_a


def test_arrival_on_a_letter_not_yet_accepted_is_refused(
    member_client, letter, member, branch_a
):
    response = member_client.post(transfer_url(letter), {"arrived": "on"}, **ENGLISH)

    assert errors_of(response) == {
        "__all__": ["This transfer is now “Issued” and cannot become “Reported”."]
    }
    assert "cannot become “Reported”" in response.content.decode()
    letter.refresh_from_db()
    assert letter.state == Transfer.State.ISSUED
    assert current_organization(member) == branch_a


def test_arrival_on_a_letter_to_outside_the_system_is_not_reported_here(
    member_client, member, secretary_of_a, branch_a
):
    letter = issue(member, None, secretary_of_a, to_external="广东省某单位党委")
    transfers.transfer_accept(actor=secretary_of_a, transfer=letter)

    response = member_client.post(transfer_url(letter), {"arrived": "on"}, **ENGLISH)

    assert errors_of(response) == {
        "__all__": [
            "A letter to an organisation outside the system is not reported here."
        ]
    }
    letter.refresh_from_db()
    assert letter.state == Transfer.State.ACCEPTED
    assert current_organization(member) == branch_a


# Yearly report


def test_a_member_not_away_is_told_no_yearly_report_is_owed(member_client):
    response = member_client.get(YEARLY_REPORT, **ENGLISH)

    content = response.content.decode()
    assert "Only a member registered as away files a yearly report." in content
    assert 'name="situation"' not in content


def test_a_member_not_away_cannot_file_a_yearly_report(member_client):
    response = member_client.post(YEARLY_REPORT, {"situation": "在家"}, **ENGLISH)

    assert errors_of(response) == {
        "__all__": ["Only a member registered as away files a yearly report."]
    }
    assert YearlyReport.objects.count() == 0


def test_a_mobile_member_files_the_yearly_report(member_client, away, member, branch_a):
    before = member_client.get(YEARLY_REPORT, **ENGLISH)

    response = member_client.post(
        YEARLY_REPORT,
        {"situation": "在长沙送外卖", "study": "学习党章", "activities": ""},
        follow=True,
        **ENGLISH,
    )

    assert 'data-testid="report-status">Not filed yet' in before.content.decode()
    report = YearlyReport.objects.get()
    assert (report.member, report.year, report.organization) == (
        member,
        today().year,
        branch_a,
    )
    assert report.body == "【Work and life】\n在长沙送外卖\n\n【Study】\n学习党章"
    content = response.content.decode()
    assert "Your yearly report was filed." in content
    assert 'data-testid="report-status">Filed' in content
    assert response.context["form"].initial == {
        "situation": "在长沙送外卖",
        "study": "学习党章",
    }


def test_filing_again_updates_this_years_report(member_client, away):
    member_client.post(YEARLY_REPORT, {"situation": "初稿"})

    member_client.post(YEARLY_REPORT, {"situation": "定稿", "activities": "主题党日"})

    report = YearlyReport.objects.get()
    assert report.body == (
        "【Work and life】\n定稿\n\n【Organisational life and activities】\n主题党日"
    )


def test_a_yearly_report_without_the_situation_is_refused(member_client, away):
    response = member_client.post(
        YEARLY_REPORT, {"situation": " ", "study": "学习党章"}, **ENGLISH
    )

    assert errors_of(response) == {"situation": ["This field is required."]}
    assert YearlyReport.objects.count() == 0


# Needs surveys


def test_a_mobile_member_sees_the_surveys_published_to_them(
    member_client, away, survey
):
    response = member_client.get(SURVEYS, **ENGLISH)

    assert [row.survey for row in response.context["surveys"]] == [survey]
    content = response.content.decode()
    assert "2026年流动党员动态、意向、困难调查" in content
    assert "Not answered" in content


def test_a_survey_not_published_to_the_member_answers_not_found(
    member_client, away, province_b
):
    staff = factories.make_user("staff_b", is_staff=True)
    factories.make_role(staff, province_b, "committee_staff")
    elsewhere = services.survey_publish(
        actor=staff, organization=province_b, title="湖南调查"
    )

    listed = member_client.get(SURVEYS)
    got = member_client.get(survey_url(elsewhere))
    posted = member_client.post(survey_url(elsewhere), {"intention": "stay"})

    assert listed.context["surveys"] == []
    assert (got.status_code, posted.status_code) == (404, 404)
    assert SurveyAnswer.objects.count() == 0


def test_a_member_who_is_not_away_is_not_asked(member_client, survey):
    response = member_client.get(survey_url(survey))

    assert response.status_code == 404


def test_a_member_answers_a_survey(member_client, away, survey, member):
    response = member_client.post(
        survey_url(survey),
        {
            "situation": "在长沙送外卖",
            "intention": "stay",
            "difficulties": ["study", "housing"],
            "difficulties_note": "租房贵",
        },
        follow=True,
        **ENGLISH,
    )

    answer = SurveyAnswer.objects.get()
    assert (answer.survey, answer.member, answer.intention) == (
        survey,
        member,
        Intention.STAY,
    )
    assert answer.difficulties == [Difficulty.HOUSING, Difficulty.STUDY]
    assert (answer.situation, answer.difficulties_note) == ("在长沙送外卖", "租房贵")
    assert response.redirect_chain == [(SURVEYS, 302)]
    assert "Thank you. Your answers were saved." in response.content.decode()
    assert "Answered" in response.content.decode()


def test_answering_again_updates_the_answer(member_client, away, survey):
    member_client.post(survey_url(survey), {"intention": "stay"})

    page = member_client.get(survey_url(survey))
    member_client.post(survey_url(survey), {"intention": "return"})

    assert page.context["form"].initial["intention"] == "stay"
    assert list(SurveyAnswer.objects.values_list("intention", flat=True)) == ["return"]


def test_a_survey_answer_without_an_intention_is_refused(member_client, away, survey):
    response = member_client.post(
        survey_url(survey), {"difficulties": ["work"]}, **ENGLISH
    )

    assert errors_of(response) == {"intention": ["Choose one of the intentions."]}
    assert SurveyAnswer.objects.count() == 0


def test_an_unknown_difficulty_is_refused(member_client, away, survey):
    response = member_client.post(
        survey_url(survey), {"intention": "stay", "difficulties": ["money"]}
    )

    assert list(errors_of(response)) == ["difficulties"]
    assert SurveyAnswer.objects.count() == 0
