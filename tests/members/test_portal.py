"""The member portal: one's own record, masked, and correction requests."""

import datetime

import pytest
from django.core import mail
from django.urls import URLPattern, reverse

from members import urls as portal_urls
from members.models import CorrectionRequest
from members.services import correction_request_create, correction_request_decide
from organizations.scope import today
from tests import factories

HOME = "/"
CORRECTIONS = "/corrections/"
# English pages, so that assertions on our own msgids hold once the Chinese
# catalogue exists.
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _no_login_rate_limits(settings):
    # allauth counts log-in attempts in the shared Redis cache; other tests
    # and earlier runs must not push these ones over a limit.
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


def test_an_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_an_anonymous_visitor_cannot_open_the_correction_page(client, db):
    response = client.post(
        CORRECTIONS, {"field": "name", "requested_value": "x", "reason": "y"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/corrections/"
    assert CorrectionRequest.objects.count() == 0


def test_a_member_sees_their_own_record(member_client, member):
    response = member_client.get(HOME, **ENGLISH)

    assert response.status_code == 200
    assert response.templates[0].name == "portal/home.html"
    content = response.content.decode()
    assert "Hello, 张三" in content
    assert "Full member" in content
    assert "第一支部" in content


def test_the_id_number_and_phone_appear_only_masked(member_client, member):
    response = member_client.get(HOME)

    content = response.content.decode()
    assert member.masked_id_number in content
    assert (
        member.masked_id_number
        == member.id_number[:3] + "*" * 11 + member.id_number[-4:]
    )
    assert "138****8000" in content
    assert member.id_number not in content
    assert "13800138000" not in content


@pytest.mark.parametrize("url", [HOME, CORRECTIONS])
def test_portal_pages_are_never_cached(member_client, url):
    response = member_client.get(url)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_log_in_field_says_username_or_mobile_phone(client, db):
    response = client.get(reverse("account_login"), **ENGLISH)

    assert response.status_code == 200
    assert str(response.context["form"].fields["login"].label) == (
        "Username or mobile phone"
    )
    assert 'placeholder="Username or mobile phone"' in response.content.decode()


def test_the_log_in_page_offers_no_sign_up(client, db):
    response = client.get(reverse("account_login"), **ENGLISH)

    assert reverse("account_signup") not in response.content.decode()


def test_a_member_logs_in_with_their_mobile_phone_number(client, member):
    response = client.post(
        reverse("account_login"),
        {"login": "138 0013 8000", "password": factories.PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == HOME
    assert client.session["_auth_user_id"] == str(member.user.pk)


def test_a_member_logs_in_with_their_username(client, member):
    response = client.post(
        reverse("account_login"),
        {"login": "member1", "password": factories.PASSWORD},
    )

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.user.pk)


def test_a_wrong_password_is_refused_with_a_message(client, member):
    response = client.post(
        reverse("account_login"),
        {"login": "13800138000", "password": "not-the-password"},
        **ENGLISH,
    )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert response.context["form"].non_field_errors() == [
        "The username and/or password you specified are not correct."
    ]


def test_log_out_is_a_post_that_ends_the_session(member_client):
    response = member_client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    assert "_auth_user_id" not in member_client.session


def test_the_password_reset_page_uses_the_portal_layout(client, db):
    response = client.get(reverse("account_reset_password"), **ENGLISH)

    assert response.status_code == 200
    content = response.content.decode()
    assert "css/portal.css" in content
    assert 'name="email"' in content


def test_a_password_reset_mails_a_link_to_the_accounts_address(client, db):
    factories.make_user("with_mail", email="member@example.org")

    response = client.post(
        reverse("account_reset_password"), {"email": "member@example.org"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    # Django's test case set-up replaces mail.outbox, so read it afterwards
    # rather than through pytest-django's mailoutbox fixture.
    assert [message.to for message in mail.outbox] == [["member@example.org"]]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_no_portal_url_takes_a_member_id():
    patterns = [p for p in portal_urls.urlpatterns if isinstance(p, URLPattern)]

    # Ids of a stay, a letter or a survey are looked up among the caller's
    # own (tests/members/test_portal_mobility.py); none names a member.
    taken = {name for p in patterns for name in p.pattern.converters}
    assert taken == {"mobility_id", "transfer_id", "survey_id"}


def test_a_member_id_in_the_query_string_is_ignored(member_client, member, member_of_b):
    response = member_client.get(HOME, {"member": member_of_b.pk})

    content = response.content.decode()
    assert "张三" in content
    assert "李四" not in content
    assert member_of_b.masked_id_number not in content


def test_regions_are_shown_in_full_from_the_province_down(client, branch_a):
    member = factories.make_member(
        branch_a,
        user=factories.make_user("mover"),
        hukou_region_id="110101",
        residence_region_id="430102",
    )
    client.force_login(member.user)

    response = client.get(HOME)

    assert (response.context["hukou_region"], response.context["residence_region"]) == (
        "北京市东城区",
        "湖南省长沙市芙蓉区",
    )


def test_the_home_page_costs_a_fixed_number_of_queries(
    client, branch_a, secretary_of_a, django_assert_num_queries
):
    factories.make_role(factories.make_user("second_sec"), branch_a, "secretary")
    member = factories.make_member(
        branch_a,
        user=factories.make_user("complete"),
        ethnicity_id="01",
        education_id="11",
        occupation_id="10",
        hukou_region_id="110101",
        residence_region_id="430102",
    )
    client.force_login(member.user)

    # Session, user, member, organisation, secretaries with their members,
    # both regions with their ancestors, then the three code tables.
    with django_assert_num_queries(6):
        response = client.get(HOME)

    assert response.status_code == 200


def test_the_organisation_shows_its_office_phone(member_client, branch_a):
    branch_a.phone = "010-65123456"
    branch_a.save()

    response = member_client.get(HOME)

    assert 'href="tel:010-65123456"' in response.content.decode()


def test_the_active_secretary_is_shown_and_an_ended_one_is_not(
    member_client, branch_a, secretary_of_a
):
    former = factories.make_user("former_sec")
    factories.make_role(
        former,
        branch_a,
        "secretary",
        starts_on=datetime.date(2019, 1, 1),
        ends_on=today() - datetime.timedelta(days=1),
    )

    response = member_client.get(HOME)

    content = response.content.decode()
    assert "sec_a" in content
    assert "former_sec" not in content


def test_roles_elsewhere_or_of_another_kind_are_not_shown_as_secretary(
    member_client, secretary_of_b, committee_staff, branch_a
):
    organiser = factories.make_user("organiser_a")
    factories.make_role(organiser, branch_a, "organiser")

    response = member_client.get(HOME, **ENGLISH)

    content = response.content.decode()
    assert "sec_b" not in content
    assert "committee" not in content
    assert "organiser_a" not in content
    assert "Not assigned" in content


def test_a_secretary_with_a_member_record_is_shown_by_name_and_masked_phone(
    member_client, branch_a
):
    secretary = factories.make_member(
        branch_a,
        user=factories.make_user("sec_member"),
        name="陈书记",
        phone="13700137000",
    )
    factories.make_role(secretary.user, branch_a, "secretary")

    response = member_client.get(HOME)

    content = response.content.decode()
    assert "陈书记" in content
    assert "137****7000" in content
    assert "13700137000" not in content


def test_a_user_without_a_member_record_is_pointed_to_the_admin(client, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(HOME)

    assert response.status_code == 200
    assert response.templates[0].name == "portal/no_member.html"
    assert 'href="/admin/"' in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_a_user_without_a_member_record_cannot_file_a_correction(client, outsider):
    client.force_login(outsider)

    response = client.post(
        CORRECTIONS, {"field": "name", "requested_value": "王五", "reason": "typo"}
    )

    assert response.templates[0].name == "portal/no_member.html"
    assert CorrectionRequest.objects.count() == 0


def test_the_correction_form_offers_the_correctable_fields_by_name(member_client):
    response = member_client.get(CORRECTIONS, **ENGLISH)

    choices = response.context["form"].fields["field"].choices
    assert [(value, str(label)) for value, label in choices] == [
        ("", "Choose a field"),
        ("name", "Name"),
        ("phone", "Phone"),
        ("ethnicity", "Ethnicity"),
        ("education", "Education"),
        ("work_unit", "Work unit"),
        ("occupation", "Occupation"),
        ("residence_address", "Residence address"),
    ]


def test_a_member_files_a_correction_request(member_client, member):
    response = member_client.post(
        CORRECTIONS,
        {"field": "work_unit", "requested_value": "顺丰速运", "reason": "换了工作"},
    )

    assert response.status_code == 302
    assert response["Location"] == CORRECTIONS
    request = CorrectionRequest.objects.get()
    assert (request.member, request.field, request.requested_value, request.reason) == (
        member,
        "work_unit",
        "顺丰速运",
        "换了工作",
    )
    assert request.status == CorrectionRequest.Status.PENDING
    assert request.requested_by == member.user


def test_a_filed_request_is_listed_as_pending(member_client):
    response = member_client.post(
        CORRECTIONS,
        {"field": "work_unit", "requested_value": "顺丰速运", "reason": "换了工作"},
        follow=True,
        **ENGLISH,
    )

    content = response.content.decode()
    assert "Your request was sent to your branch secretary." in content
    assert "顺丰速运" in content
    assert '<span class="badge badge--pending">Pending</span>' in content


def test_a_correction_to_an_invalid_phone_shows_the_error_and_saves_nothing(
    member_client,
):
    response = member_client.post(
        CORRECTIONS,
        {"field": "phone", "requested_value": "12345", "reason": "new number"},
        **ENGLISH,
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "requested_value": ["Not a mainland mobile (11 digits) or landline number."]
    }
    assert "Not a mainland mobile (11 digits) or landline number." in (
        response.content.decode()
    )
    assert CorrectionRequest.objects.count() == 0


def test_a_correction_without_a_reason_is_refused(member_client):
    response = member_client.post(
        CORRECTIONS, {"field": "name", "requested_value": "张叁", "reason": " "}
    )

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["reason"]
    assert CorrectionRequest.objects.count() == 0


def test_a_field_outside_the_correctable_list_is_refused(member_client):
    response = member_client.post(
        CORRECTIONS,
        {"field": "id_number", "requested_value": "110101", "reason": "wrong"},
    )

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["field"]
    assert CorrectionRequest.objects.count() == 0


def test_a_requested_phone_is_listed_masked(member_client, member):
    correction_request_create(
        actor=member.user, field="phone", requested_value="13900139000", reason="new"
    )

    response = member_client.get(CORRECTIONS)

    content = response.content.decode()
    assert "139****9000" in content
    assert "13900139000" not in content


def test_a_rejected_request_shows_the_secretarys_note(
    member_client, member, secretary_of_a
):
    request = correction_request_create(
        actor=member.user, field="name", requested_value="张叁", reason="typo"
    )
    correction_request_decide(
        actor=secretary_of_a, request=request, approve=False, note="与档案不符"
    )

    response = member_client.get(CORRECTIONS, **ENGLISH)

    content = response.content.decode()
    assert '<span class="badge badge--rejected">Rejected</span>' in content
    assert "与档案不符" in content


def test_a_member_sees_only_their_own_requests(member_client, member_of_b):
    member_of_b.user = factories.make_user("member_b")
    member_of_b.save()
    correction_request_create(
        actor=member_of_b.user, field="work_unit", requested_value="美团", reason="r"
    )

    response = member_client.get(CORRECTIONS, **ENGLISH)

    content = response.content.decode()
    assert "美团" not in content
    assert "You have not requested any corrections." in content


def test_the_header_switches_language_and_logs_out_by_post(member_client):
    response = member_client.get(CORRECTIONS, **ENGLISH)

    content = response.content.decode()
    assert '<form class="inline-form" action="/i18n/setlang/" method="post">' in content
    assert '<input type="hidden" name="next" value="/corrections/">' in content
    assert 'name="language" value="zh-hans"' in content
    assert 'name="language" value="en"' not in content
    assert '<form class="inline-form" action="/accounts/logout/" method="post">' in (
        content
    )


def test_the_language_switch_turns_the_portal_to_english(member_client):
    member_client.post("/i18n/setlang/", {"language": "en", "next": HOME})

    response = member_client.get(HOME)

    assert '<html lang="en">' in response.content.decode()
