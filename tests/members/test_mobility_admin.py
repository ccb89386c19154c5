"""The mobility admin and the member page's contact work, for both sides."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from members import services
from members.models import (
    AuditEvent,
    ContactLog,
    LostContact,
    Mobility,
    MobilityStatus,
)
from organizations.models import Region, Transfer
from organizations.services import dues_required_through
from tests import factories

DAY = datetime.timedelta(days=1)
LIST_URL = reverse("admin:members_mobility_changelist")
MEMBERS_URL = reverse("admin:members_member_changelist")
INDEX_URL = reverse("admin:index")


def today():
    return timezone.localdate()


def change_url(mobility):
    return reverse("admin:members_mobility_change", args=[mobility.pk])


def step_url(mobility, step):
    return reverse("admin:members_mobility_step", args=[mobility.pk, step])


def member_url(member, page=""):
    if page:
        return reverse(f"admin:members_member_{page}", args=[member.pk])
    return reverse("admin:members_member_change", args=[member.pk])


def register_url(member):
    return reverse("admin:members_mobility_add") + f"?member={member.pk}"


def status_of(mobility):
    return Mobility.objects.get(pk=mobility.pk).status


def listed(client, user, query=None):
    client.force_login(user)
    response = client.get(LIST_URL, query or {})
    assert response.status_code == 200
    return [(m.member.name, m._side) for m in response.context["cl"].result_list]


def non_field_codes(response):
    return [e.code for e in response.context["form"].non_field_errors().as_data()]


def index_counts(response):
    return {
        line.queue.key: line.count
        for _section, lines in response.context["queue_sections"]
        for line in lines
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def changsha():
    return Region.objects.get(code="430100")


@pytest.fixture
def secretary_of_c(branch_c):
    user = factories.make_user("sec_c", is_staff=True)
    factories.make_role(user, branch_c, "secretary")
    return user


@pytest.fixture
def away(member, member_user, changsha):
    return services.mobility_register(
        actor=member_user,
        member=member,
        destination_region=changsha,
        left_on=today() - 20 * DAY,
        reason=Mobility.Reason.WORK,
        contact="长沙市芙蓉区某小区 13900001111",
    )


@pytest.fixture
def reported(away, branch_c, member_user):
    return services.mobility_report(
        actor=member_user, mobility=away, inflow_organization=branch_c
    )


@pytest.fixture
def placed(reported, secretary_of_c):
    return services.mobility_accept(actor=secretary_of_c, mobility=reported)


# Lists and queues


def test_the_outflow_secretary_sees_their_member_away(client, away, secretary_of_a):
    assert listed(client, secretary_of_a) == [("张三", "outflow")]


def test_the_inflow_secretary_sees_a_placed_member_as_inflow(
    client, placed, secretary_of_c
):
    assert listed(client, secretary_of_c) == [("张三", "inflow")]


def test_the_inflow_secretary_sees_nothing_before_the_member_reports(
    client, away, secretary_of_c
):
    assert listed(client, secretary_of_c) == []


@pytest.mark.parametrize(
    ("queue", "user", "names"),
    [
        ("out", "secretary_of_a", ["张三"]),
        ("awaiting", "secretary_of_c", ["张三"]),
        ("placed", "secretary_of_c", []),
        ("awaiting", "secretary_of_a", []),
    ],
)
def test_a_report_waits_in_the_inflow_queue(
    request, client, reported, queue, user, names
):
    rows = listed(client, request.getfixturevalue(user), {"queue": queue})

    assert [name for name, _side in rows] == names


def test_once_accepted_the_member_moves_to_the_placed_queue(
    client, placed, secretary_of_c
):
    assert listed(client, secretary_of_c, {"queue": "placed"}) == [("张三", "inflow")]
    assert listed(client, secretary_of_c, {"queue": "awaiting"}) == []


def test_stays_not_reported_past_the_deadline_are_queued(client, away, secretary_of_a):
    Mobility.objects.filter(pk=away.pk).update(left_on=today() - 60 * DAY)

    assert listed(client, secretary_of_a, {"queue": "not_reported"}) == [
        ("张三", "outflow")
    ]


def test_opening_a_stay_is_on_the_record(client, away, secretary_of_a):
    client.force_login(secretary_of_a)

    client.get(change_url(away))

    event = AuditEvent.objects.get(action="mobility.view")
    assert (event.actor, event.member) == (secretary_of_a, away.member)


@pytest.mark.parametrize(
    "user", ["secretary_of_b", "secretary_of_c", "provincial_viewer_other"]
)
def test_a_stay_out_of_scope_is_neither_listed_nor_opened(request, client, away, user):
    actor = request.getfixturevalue(user)

    assert listed(client, actor) == []
    assert client.get(change_url(away)).status_code == 404


def test_a_viewer_of_the_inflow_province_sees_the_placed_member(
    client, placed, provincial_viewer_other
):
    assert listed(client, provincial_viewer_other) == [("张三", "inflow")]


def test_the_index_counts_the_mobility_queues_of_each_side(
    client, reported, secretary_of_a, secretary_of_c
):
    client.force_login(secretary_of_c)
    inflow = index_counts(client.get(INDEX_URL))
    client.force_login(secretary_of_a)
    outflow = index_counts(client.get(INDEX_URL))

    assert (inflow["awaiting"], inflow["placed"], inflow["out"]) == (1, 0, 0)
    assert (outflow["awaiting"], outflow["out"], outflow["lost"]) == (0, 1, 0)


def test_the_index_costs_the_same_queries_with_members_away(
    client, branch_a, changsha, secretary_of_a, django_assert_num_queries
):
    client.force_login(secretary_of_a)
    with django_assert_num_queries(7):
        client.get(INDEX_URL)

    for _n in range(5):
        services.mobility_register(
            actor=secretary_of_a,
            member=factories.make_member(branch_a),
            destination_region=changsha,
            left_on=today() - DAY,
            reason=Mobility.Reason.WORK,
            contact="长沙",
        )
    with django_assert_num_queries(7):
        response = client.get(INDEX_URL)

    assert index_counts(response)["out"] == 5


# Steps of the outflow side


def test_the_outflow_secretary_confirms_a_members_registration(
    client, away, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(step_url(away, "confirm"))

    assert response["Location"] == change_url(away)
    assert Mobility.objects.get(pk=away.pk).confirmed_by == secretary_of_a


def test_a_confirmed_registration_offers_no_confirmation(client, away, secretary_of_a):
    services.mobility_confirm(actor=secretary_of_a, mobility=away)
    client.force_login(secretary_of_a)

    response = client.get(change_url(away))

    offered = [step.name for step, _url in response.context["steps"]]
    assert offered == ["certificate", "return", "move-on", "convert"]
    assert client.post(step_url(away, "confirm")).status_code == 403


def test_the_outflow_secretary_issues_the_activity_certificate(
    client, away, secretary_of_a
):
    client.force_login(secretary_of_a)

    client.post(step_url(away, "certificate"), {"number": "LD-2026-0001"})

    stay = Mobility.objects.get(pk=away.pk)
    assert (stay.certificate_number, stay.certificate_issued_on) == (
        "LD-2026-0001",
        today(),
    )


def test_a_certificate_without_a_number_changes_nothing(client, away, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(step_url(away, "certificate"), {"number": ""})

    assert "number" in response.context["form"].errors
    assert Mobility.objects.get(pk=away.pk).certificate_number == ""


def test_the_return_home_ends_the_stay_and_shows_the_member(
    client, placed, member, secretary_of_a, secretary_of_c
):
    client.force_login(secretary_of_a)

    response = client.post(step_url(placed, "return"), {"returned_on": today()})

    assert response["Location"] == member_url(member)
    assert status_of(placed) == MobilityStatus.RETURNED
    assert listed(client, secretary_of_c) == []


def test_a_return_dated_in_the_future_is_refused(client, away, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(step_url(away, "return"), {"returned_on": today() + 3 * DAY})

    assert "returned_on" in response.context["form"].errors
    assert status_of(away) == MobilityStatus.REGISTERED


def test_moving_on_starts_the_next_stay(client, away, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        step_url(away, "move-on"),
        {
            "destination_region": "440300",
            "left_on": today().isoformat(),
            "reason": "work",
            "contact": "深圳市南山区",
        },
    )

    following = Mobility.objects.get(previous=away)
    assert response["Location"] == change_url(following)
    assert (status_of(away), following.destination_region_id) == (
        MobilityStatus.MOVED_ON,
        "440300",
    )


def test_a_province_is_not_a_place_to_move_on_to(client, away, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        step_url(away, "move-on"),
        {
            "destination_region": "440000",
            "left_on": today().isoformat(),
            "reason": "work",
            "contact": "广东",
        },
    )

    assert "destination_region" in response.context["form"].errors
    assert status_of(away) == MobilityStatus.REGISTERED


def test_a_long_stay_becomes_a_transfer_to_the_host(
    client, placed, branch_c, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        step_url(placed, "convert"),
        {"dues_paid_through": f"{dues_required_through(today()):%Y-%m}"},
    )

    transfer = Transfer.objects.get(member=placed.member)
    assert response["Location"] == reverse(
        "admin:organizations_transfer_change", args=[transfer.pk]
    )
    assert (transfer.state, transfer.to_organization) == (
        Transfer.State.ISSUED,
        branch_c,
    )


def test_a_conversion_without_an_inflow_organisation_asks_for_one(
    client, away, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        step_url(away, "convert"),
        {"dues_paid_through": f"{dues_required_through(today()):%Y-%m}"},
    )

    assert "to_organization" in response.context["form"].errors
    assert Transfer.objects.count() == 0


# Steps of the inflow side


def test_the_inflow_secretary_accepts_a_report(client, reported, secretary_of_c):
    client.force_login(secretary_of_c)

    response = client.post(step_url(reported, "accept"))

    assert response["Location"] == change_url(reported)
    assert Mobility.objects.get(pk=reported.pk).reported_on == today()


def test_the_inflow_secretary_declines_with_a_reason(client, reported, secretary_of_c):
    client.force_login(secretary_of_c)

    empty = client.post(step_url(reported, "decline"), {"reason": ""})
    response = client.post(step_url(reported, "decline"), {"reason": "不在辖区"})

    assert "reason" in empty.context["form"].errors
    assert response["Location"] == LIST_URL
    assert Mobility.objects.get(pk=reported.pk).inflow_organization is None


def test_the_outflow_secretary_cannot_accept_for_the_host(
    client, reported, secretary_of_a
):
    client.force_login(secretary_of_a)

    assert client.post(step_url(reported, "accept")).status_code == 403
    assert Mobility.objects.get(pk=reported.pk).reported_on is None


def test_the_inflow_secretary_cannot_act_for_the_outflow_side(
    client, placed, secretary_of_c
):
    client.force_login(secretary_of_c)

    assert client.post(step_url(placed, "return")).status_code == 403
    assert status_of(placed) == MobilityStatus.REPORTED


def test_a_provincial_viewer_opens_a_stay_but_cannot_act(
    client, away, provincial_viewer
):
    client.force_login(provincial_viewer)

    assert client.get(change_url(away)).status_code == 200
    assert client.get(step_url(away, "confirm")).status_code == 403
    assert client.post(step_url(away, "confirm")).status_code == 403
    assert Mobility.objects.get(pk=away.pk).confirmed_on is None


@pytest.mark.parametrize("user", ["secretary_of_b", "provincial_viewer_other"])
def test_acting_on_a_stay_out_of_scope_is_404(request, client, away, user):
    client.force_login(request.getfixturevalue(user))

    assert client.post(step_url(away, "confirm")).status_code == 404


# Registering a member going out


def test_the_secretary_registers_a_member_going_out(client, member, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        register_url(member),
        {
            "destination_region": "430100",
            "left_on": today().isoformat(),
            "reason": "work",
            "contact": "长沙市岳麓区 13900002222",
        },
    )

    stay = Mobility.objects.get(member=member)
    assert response["Location"] == change_url(stay)
    assert (stay.confirmed_by, stay.destination_region_id) == (
        secretary_of_a,
        "430100",
    )


def test_a_second_stay_is_refused_with_the_services_message(
    client, away, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        register_url(member),
        {
            "destination_region": "430100",
            "left_on": today().isoformat(),
            "reason": "work",
            "contact": "长沙",
        },
    )

    assert non_field_codes(response) == ["mobility_open"]
    assert Mobility.objects.count() == 1


@pytest.mark.parametrize(
    ("user", "status"), [("secretary_of_b", 404), ("provincial_viewer", 403)]
)
def test_only_the_holding_organisation_registers_a_stay(
    request, client, member, user, status
):
    client.force_login(request.getfixturevalue(user))

    assert client.get(register_url(member)).status_code == status


# The member page: contact, lost and found


def test_the_member_page_offers_the_holders_work(client, member, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(member_url(member))

    assert [t["testid"] for t in response.context["member_tools"]] == [
        "issue-transfer",
        "register-mobility",
        "log-contact",
        "mark-lost",
    ]


def test_a_contact_is_logged_and_becomes_the_last_contact(
    client, member, secretary_of_a
):
    client.force_login(secretary_of_a)
    moment = timezone.localtime().replace(second=0, microsecond=0) - DAY

    response = client.post(
        member_url(member, "contact"),
        {
            "channel": "phone",
            "outcome": "reached",
            "contacted_at": moment.strftime("%Y-%m-%dT%H:%M"),
            "note": "一切正常",
        },
    )

    entry = ContactLog.objects.get(member=member)
    assert response["Location"] == member_url(member)
    assert (entry.contacted_by, entry.contacted_at) == (secretary_of_a, moment)
    page = client.get(member_url(member))
    assert page.context["last_contact"] == moment
    assert [e.note for e in page.context["contact_logs"]] == ["一切正常"]


def test_a_contact_in_the_future_is_refused(client, member, secretary_of_a):
    client.force_login(secretary_of_a)
    later = timezone.localtime() + DAY

    response = client.post(
        member_url(member, "contact"),
        {
            "channel": "phone",
            "outcome": "reached",
            "contacted_at": later.strftime("%Y-%m-%dT%H:%M"),
        },
    )

    assert "contacted_at" in response.context["form"].errors
    assert ContactLog.objects.count() == 0


def test_the_inflow_secretary_may_log_contacts_with_a_placed_member(
    client, placed, member, secretary_of_c
):
    client.force_login(secretary_of_c)

    client.post(
        member_url(member, "contact"),
        {
            "channel": "visit",
            "outcome": "reached",
            "contacted_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        },
    )

    assert ContactLog.objects.get(member=member).contacted_by == secretary_of_c


def test_a_provincial_viewer_may_not_log_contacts(client, member, provincial_viewer):
    client.force_login(provincial_viewer)

    assert client.get(member_url(member, "contact")).status_code == 403
    assert client.post(member_url(member, "contact"), {}).status_code == 403


def test_contact_with_a_member_out_of_scope_is_404(client, member, secretary_of_b):
    client.force_login(secretary_of_b)

    assert client.get(member_url(member, "contact")).status_code == 404


def test_marking_lost_without_a_failed_attempt_explains_and_changes_nothing(
    client, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(member_url(member, "lost"), {"note": ""})

    assert non_field_codes(response) == ["no_failed_contact"]
    assert LostContact.objects.count() == 0


def test_a_member_is_marked_lost_then_found(client, away, member, secretary_of_a):
    services.contact_log_record(
        actor=secretary_of_a,
        member=member,
        channel="phone",
        outcome="no_answer",
        contacted_at=timezone.now() - 3 * DAY,
    )
    client.force_login(secretary_of_a)

    client.post(member_url(member, "lost"), {"note": "多次电话未接"})
    lost = client.get(MEMBERS_URL, {"queue": "lost"})
    client.post(member_url(member, "found"), {"found_on": today(), "note": "回电"})

    episode = LostContact.objects.get(member=member)
    assert [m.pk for m in lost.context["cl"].result_list] == [member.pk]
    assert (episode.since, episode.found_on) == (today() - 3 * DAY, today())
    assert status_of(away) == MobilityStatus.REGISTERED


def test_the_inflow_secretary_may_not_mark_a_placed_member_lost(
    client, placed, member, secretary_of_c
):
    client.force_login(secretary_of_c)

    response = client.get(member_url(member))

    assert client.get(member_url(member, "lost")).status_code == 403
    assert [t["testid"] for t in response.context["member_tools"]] == ["log-contact"]


# What the inflow side sees of a placed member


def test_a_placed_member_is_shown_without_history_or_custody(
    client, placed, member, secretary_of_c
):
    client.force_login(secretary_of_c)

    response = client.get(member_url(member))

    shown = {
        field
        for _title, fieldset in response.context["adminform"].fieldsets
        for field in fieldset["fields"]
    }
    assert response.status_code == 200
    assert {
        "membership_history_table",
        "audit_trail_table",
        "hukou_region",
        "hukou_address",
        "file_custodian",
    } & shown == set()
    assert not response.context["can_reveal"]
    assert member.id_number not in response.content.decode()


def test_the_placed_view_shows_no_dues_or_income_field(
    client, placed, member, secretary_of_c
):
    client.force_login(secretary_of_c)

    response = client.get(member_url(member))

    shown = {
        field
        for _title, fieldset in response.context["adminform"].fieldsets
        for field in fieldset["fields"]
    }
    assert [f for f in shown if "dues" in f or "income" in f] == []
    assert not response.context["has_change_permission"]


def test_the_outflow_secretary_still_sees_the_whole_record(
    client, placed, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(member_url(member))

    shown = {
        field
        for _title, fieldset in response.context["adminform"].fieldsets
        for field in fieldset["fields"]
    }
    assert {"membership_history_table", "audit_trail_table"} <= shown
    assert response.context["can_reveal"]
