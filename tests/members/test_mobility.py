import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from members import services, tasks
from members.models import (
    ContactLog,
    Difficulty,
    Intention,
    LostContact,
    Member,
    Mobility,
    MobilityStatus,
)
from members.selectors import (
    Access,
    contact_log_list,
    inflow_organizations_for,
    last_contact_at,
    member_access,
    member_list,
    members_lost_contact,
    mobile_members_missing_yearly_report,
    mobilities_awaiting_acceptance,
    mobilities_not_reported,
    mobilities_placed_with,
    mobilities_settled,
    mobility_list,
    survey_aggregate,
    survey_answer_list,
    surveys_open_for,
)
from organizations import services as transfers
from organizations.models import Region, Transfer
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for
from tests import factories

DAY = datetime.timedelta(days=1)


def today():
    return timezone.localdate()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Role fixtures create users; these tests never log in.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def changsha():
    return Region.objects.get(code="430100")


@pytest.fixture
def furong():
    return Region.objects.get(code="430102")


@pytest.fixture
def secretary_of_c(branch_c):
    user = factories.make_user("sec_c", is_staff=True)
    factories.make_role(user, branch_c, "secretary")
    return user


@pytest.fixture
def mobile_branch(province_b):
    return factories.make_organization(
        province_b,
        code="M-C",
        kind="mobile_branch",
        region="430103",
        name="流动党员支部",
    )


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


def names(members):
    return sorted(m.name for m in members)


# Registering and reporting


def test_a_member_registers_going_out_and_the_secretary_confirms(
    away, member, branch_a, secretary_of_a
):
    confirmed = services.mobility_confirm(actor=secretary_of_a, mobility=away)

    assert away.outflow_organization == branch_a
    assert away.status == MobilityStatus.REGISTERED
    assert away.contact == "长沙市芙蓉区某小区 13900001111"
    assert (confirmed.confirmed_by, confirmed.confirmed_on) == (secretary_of_a, today())
    assert [m.pk for m in mobility_list(scope=scope_for(secretary_of_a))] == [away.pk]


def test_a_secretary_registers_a_stay_already_confirmed(
    member, changsha, secretary_of_a
):
    mobility = register(secretary_of_a, member, changsha)

    assert (mobility.registered_by, mobility.confirmed_by) == (
        secretary_of_a,
        secretary_of_a,
    )


def test_a_province_is_not_a_destination(member, member_user):
    with pytest.raises(ValidationError) as excinfo:
        register(member_user, member, Region.objects.get(code="430000"))

    assert excinfo.value.error_dict["destination_region"][0].code == "region_level"


def test_another_branch_cannot_register_the_member(member, changsha, secretary_of_b):
    with pytest.raises(OutOfScope):
        register(secretary_of_b, member, changsha)


@pytest.mark.parametrize(
    "left_on",
    [datetime.date(9999, 12, 31), datetime.date(1900, 1, 1)],
)
def test_a_departure_date_that_would_lock_the_stay_is_refused(
    member, member_user, changsha, left_on
):
    with pytest.raises(ValidationError) as excinfo:
        register(member_user, member, changsha, left_on=left_on)

    assert excinfo.value.error_dict["left_on"][0].code == "left_on_out_of_range"
    assert not Mobility.objects.exists()


def test_a_departure_planned_within_ninety_days_is_accepted(
    member, member_user, changsha
):
    stay = register(member_user, member, changsha, left_on=today() + 90 * DAY)

    assert stay.left_on == today() + 90 * DAY


def test_a_member_has_one_active_stay(away, member, member_user, changsha):
    with pytest.raises(services.MobilityStateError) as excinfo:
        register(member_user, member, changsha)

    assert excinfo.value.code == "mobility_open"


def test_the_database_refuses_a_second_active_stay(away):
    second = Mobility.objects.get(pk=away.pk)
    second.pk = None

    with pytest.raises(IntegrityError, match="mobility_one_active_per_member"):
        with transaction.atomic():
            second.save()


def test_inflow_organisations_are_those_of_the_region_mobile_branches_first(
    branch_c, mobile_branch, changsha, branch_a
):
    listed = list(inflow_organizations_for(changsha))

    assert listed == [mobile_branch, branch_c]


def test_a_report_to_an_organisation_outside_the_destination_is_refused(
    away, member_user, branch_b
):
    with pytest.raises(ValidationError) as excinfo:
        services.mobility_report(
            actor=member_user, mobility=away, inflow_organization=branch_b
        )

    assert excinfo.value.error_dict["inflow_organization"][0].code == (
        "inflow_outside_region"
    )


def test_a_stay_marked_lost_cannot_be_reported_until_found(
    away, member, member_user, branch_c, secretary_of_a
):
    contact(secretary_of_a, member, ContactLog.Outcome.UNREACHABLE, timezone.now())
    services.member_mark_lost(actor=secretary_of_a, member=member)

    with pytest.raises(ValidationError) as excinfo:
        services.mobility_report(
            actor=member_user, mobility=away, inflow_organization=branch_c
        )

    assert excinfo.value.code == "mobility_not_registered"
    away.refresh_from_db()
    assert away.inflow_organization is None


def test_a_report_waits_in_the_inflow_queue_until_accepted(
    away, branch_c, member, member_user, secretary_of_c
):
    services.mobility_report(
        actor=member_user, mobility=away, inflow_organization=branch_c
    )

    waiting = mobilities_awaiting_acceptance(scope=scope_for(secretary_of_c))
    assert [m.pk for m in waiting] == [away.pk]
    assert member_access(scope=scope_for(secretary_of_c), member=member) is (
        Access.NONE
    )


def test_the_inflow_secretary_may_decline_a_report_with_a_reason(
    away, branch_c, member_user, secretary_of_c
):
    services.mobility_report(
        actor=member_user, mobility=away, inflow_organization=branch_c
    )

    with pytest.raises(ValidationError):
        services.mobility_decline(actor=secretary_of_c, mobility=away, reason=" ")
    declined = services.mobility_decline(
        actor=secretary_of_c, mobility=away, reason="不在本支部服务范围"
    )

    assert (declined.inflow_organization, declined.status) == (
        None,
        MobilityStatus.REGISTERED,
    )


def test_only_the_inflow_side_accepts(away, branch_c, member_user, secretary_of_a):
    services.mobility_report(
        actor=member_user, mobility=away, inflow_organization=branch_c
    )

    with pytest.raises(PermissionDenied) as excinfo:
        services.mobility_accept(actor=secretary_of_a, mobility=away)

    assert type(excinfo.value) is PermissionDenied


# Dual management


def test_the_inflow_secretary_sees_the_placed_member_without_dues(
    placed, member, secretary_of_c
):
    scope = scope_for(secretary_of_c)

    assert names(member_list(scope=scope)) == ["张三"]
    assert member_access(scope=scope, member=member) is Access.PLACED
    assert [m.pk for m in mobilities_placed_with(scope=scope)] == [placed.pk]


def test_the_inflow_secretary_sees_nothing_else_of_the_outflow_organisation(
    placed, member, branch_a, secretary_of_c
):
    other = factories.make_member(branch_a, name="赵七")
    scope = scope_for(secretary_of_c)

    assert member_access(scope=scope, member=other) is Access.NONE
    assert names(member_list(scope=scope)) == ["张三"]
    assert list(member_list(scope=scope, write=True)) == []
    assert list(mobility_list(scope=scope)) == []


def test_the_outflow_organisation_keeps_full_access(placed, member, secretary_of_a):
    assert member_access(scope=scope_for(secretary_of_a), member=member) is (
        Access.FULL
    )


def test_the_inflow_secretary_loses_the_member_when_they_return(
    placed, member, member_user, secretary_of_c
):
    Mobility.objects.filter(pk=placed.pk).update(reported_on=today() - 10 * DAY)

    services.mobility_return(actor=member_user, mobility=placed)

    placed.refresh_from_db()
    assert (placed.status, placed.ended_on) == (MobilityStatus.RETURNED, today())
    assert member_access(scope=scope_for(secretary_of_c), member=member) is (
        Access.NONE
    )
    assert list(member_list(scope=scope_for(secretary_of_c))) == []
    yesterday = today() - DAY
    assert member_access(
        scope=scope_for(secretary_of_c, on=yesterday), member=member, on=yesterday
    ) is (Access.PLACED)


def test_moving_on_ends_the_stay_and_starts_the_next(
    placed, member, member_user, secretary_of_c
):
    shenzhen = Region.objects.get(code="440300")

    following = services.mobility_move_on(
        actor=member_user,
        mobility=placed,
        destination_region=shenzhen,
        left_on=today(),
        reason=Mobility.Reason.WORK,
        contact="深圳市南山区 13900002222",
    )

    placed.refresh_from_db()
    assert placed.status == MobilityStatus.MOVED_ON
    assert (following.previous, following.status) == (placed, MobilityStatus.REGISTERED)
    assert following.destination_region == shenzhen
    assert member_access(scope=scope_for(secretary_of_c), member=member) is (
        Access.NONE
    )


def test_a_long_stay_becomes_a_transfer_to_the_inflow_organisation(
    placed, member, branch_c, secretary_of_a, secretary_of_c
):
    month = transfers.dues_required_through(today())

    letter = transfers.mobility_convert_to_transfer(
        actor=secretary_of_a, mobility=placed, dues_paid_through=month
    )
    transfers.transfer_accept(actor=secretary_of_c, transfer=letter)
    transfers.transfer_report(actor=secretary_of_c, transfer=letter)

    placed.refresh_from_db()
    assert (letter.state, letter.to_organization) == (Transfer.State.ISSUED, branch_c)
    assert (placed.status, placed.transfer) == (MobilityStatus.TRANSFERRED, letter)
    assert member_access(scope=scope_for(secretary_of_c), member=member) is (
        Access.FULL
    )
    assert member_access(scope=scope_for(secretary_of_a), member=member) is (
        Access.NONE
    )


def test_members_settled_six_months_are_prompted_to_transfer(
    member, member_of_b, changsha, secretary_of_a, committee_staff
):
    settled = register(secretary_of_a, member, changsha, left_on=today() - 200 * DAY)
    register(committee_staff, member_of_b, changsha, left_on=today() - 20 * DAY)

    prompted = mobilities_settled(scope=scope_for(committee_staff))

    assert [m.pk for m in prompted] == [settled.pk]


def test_stays_without_a_report_past_the_deadline_are_listed(
    member, member_of_b, changsha, secretary_of_a, committee_staff
):
    late = register(secretary_of_a, member, changsha, left_on=today() - 40 * DAY)
    register(committee_staff, member_of_b, changsha, left_on=today() - 5 * DAY)

    listed = mobilities_not_reported(scope=scope_for(committee_staff))

    assert [m.pk for m in listed] == [late.pk]
    assert tasks.flag_mobility_prompts.apply().get() == {
        "settled": 0,
        "not_reported": 1,
    }


def test_the_outflow_secretary_issues_the_activity_certificate(
    placed, secretary_of_a, secretary_of_c
):
    with pytest.raises(PermissionDenied):
        services.mobility_certificate_issue(
            actor=secretary_of_c, mobility=placed, number="LD-2026-001"
        )
    issued = services.mobility_certificate_issue(
        actor=secretary_of_a, mobility=placed, number="LD-2026-001"
    )

    assert (issued.certificate_number, issued.certificate_issued_on) == (
        "LD-2026-001",
        today(),
    )


def test_a_provincial_viewer_cannot_confirm_a_stay(away, provincial_viewer):
    with pytest.raises(ReadOnlyScope):
        services.mobility_confirm(actor=provincial_viewer, mobility=away)


def test_an_outsider_cannot_touch_a_stay(away, outsider):
    with pytest.raises(OutOfScope):
        services.mobility_confirm(actor=outsider, mobility=away)


# Contact log, last contact, lost and found


def contact(actor, member, outcome, at):
    return services.contact_log_record(
        actor=actor,
        member=member,
        channel=ContactLog.Channel.PHONE,
        outcome=outcome,
        contacted_at=at,
    )


def test_last_contact_is_derived_from_successful_contacts_and_logins(
    member, member_user, secretary_of_a
):
    now = timezone.now()
    contact(secretary_of_a, member, ContactLog.Outcome.REACHED, now - 30 * DAY)
    contact(secretary_of_a, member, ContactLog.Outcome.NO_ANSWER, now - 10 * DAY)
    reached_only = last_contact_at(member)

    member_user.last_login = now - 5 * DAY
    member_user.save(update_fields=["last_login"])

    assert reached_only == now - 30 * DAY
    assert last_contact_at(member) == now - 5 * DAY


def test_a_member_never_reached_has_no_last_contact(member_of_b):
    assert last_contact_at(member_of_b) is None


def test_the_inflow_secretary_may_log_contacts_with_a_placed_member(
    placed, member, secretary_of_c, secretary_of_a
):
    contact(secretary_of_c, member, ContactLog.Outcome.REACHED, timezone.now())

    logs = contact_log_list(scope=scope_for(secretary_of_a), member=member)
    assert [log.contacted_by for log in logs] == [secretary_of_c]


def test_contact_logs_are_out_of_scope_for_others(member, secretary_of_b):
    with pytest.raises(OutOfScope):
        contact(secretary_of_b, member, ContactLog.Outcome.REACHED, timezone.now())
    with pytest.raises(OutOfScope):
        contact_log_list(scope=scope_for(secretary_of_b), member=member)


def test_a_provincial_viewer_may_not_log_contacts(member, provincial_viewer):
    with pytest.raises(ReadOnlyScope):
        contact(provincial_viewer, member, ContactLog.Outcome.REACHED, timezone.now())


def test_marking_lost_needs_a_failed_attempt(member, secretary_of_a):
    contact(secretary_of_a, member, ContactLog.Outcome.REACHED, timezone.now())

    with pytest.raises(ValidationError) as excinfo:
        services.member_mark_lost(actor=secretary_of_a, member=member)

    assert excinfo.value.code == "no_failed_contact"


def test_lost_and_found_are_recorded_with_their_dates(
    placed, member, secretary_of_a, committee_staff
):
    now = timezone.now()
    contact(secretary_of_a, member, ContactLog.Outcome.REACHED, now - 60 * DAY)
    contact(secretary_of_a, member, ContactLog.Outcome.NO_ANSWER, now - 20 * DAY)
    contact(secretary_of_a, member, ContactLog.Outcome.UNREACHABLE, now - 2 * DAY)

    episode = services.member_mark_lost(actor=secretary_of_a, member=member)
    member.refresh_from_db()
    placed.refresh_from_db()
    lost_state = (member.lost_contact_since, placed.status)
    listed = [m.pk for m in members_lost_contact(scope=scope_for(committee_staff))]
    services.member_mark_found(actor=secretary_of_a, member=member, note="回乡探亲")

    first_failure = timezone.localdate(now - 20 * DAY)
    assert episode.since == first_failure
    assert lost_state == (first_failure, MobilityStatus.LOST_CONTACT)
    assert listed == [member.pk]
    member.refresh_from_db()
    placed.refresh_from_db()
    episode.refresh_from_db()
    assert member.lost_contact_since is None
    assert placed.status == MobilityStatus.REPORTED
    assert (episode.found_on, episode.found_by) == (today(), secretary_of_a)
    assert LostContact.objects.filter(member=member).count() == 1


def test_only_the_holding_organisation_marks_a_member_lost(
    placed, member, secretary_of_a, secretary_of_c, secretary_of_b, provincial_viewer
):
    contact(secretary_of_a, member, ContactLog.Outcome.NO_ANSWER, timezone.now())

    with pytest.raises(PermissionDenied) as excinfo:
        services.member_mark_lost(actor=secretary_of_c, member=member)

    assert type(excinfo.value) is PermissionDenied
    with pytest.raises(ReadOnlyScope):
        services.member_mark_lost(actor=provincial_viewer, member=member)
    with pytest.raises(OutOfScope):
        services.member_mark_lost(actor=secretary_of_b, member=member)
    assert Member.objects.get(pk=member.pk).lost_contact_since is None


# Needs survey


@pytest.fixture
def survey(city_committee, committee_staff):
    return services.survey_publish(
        actor=committee_staff,
        organization=city_committee,
        title="2026年流动党员动态、意向、困难调查",
    )


def answer(user, survey, **kw):
    fields = dict(
        intention=Intention.STAY,
        difficulties=[Difficulty.HOUSING, Difficulty.WORK],
        situation="在长沙送外卖",
    )
    fields.update(kw)
    return services.survey_answer(actor=user, survey=survey, **fields)


def test_a_mobile_member_is_asked_and_answers_once(survey, placed, member_user):
    asked = list(surveys_open_for(user=member_user))

    answer(member_user, survey)
    again = answer(member_user, survey, intention=Intention.RETURN, difficulties=[])

    assert asked == [survey]
    assert survey.answers.count() == 1
    assert (again.intention, again.difficulties) == (Intention.RETURN, [])


def test_difficulties_are_stored_in_question_order(survey, away, member_user):
    stored = answer(
        member_user, survey, difficulties=[Difficulty.STUDY, Difficulty.WORK]
    )

    assert stored.difficulties == [Difficulty.WORK, Difficulty.STUDY]


def test_a_member_who_is_not_away_is_not_asked(survey, member_of_b):
    user = factories.make_user("member_b")
    member_of_b.user = user
    member_of_b.save()

    with pytest.raises(OutOfScope):
        answer(user, survey)

    assert list(surveys_open_for(user=user)) == []


def test_the_publisher_sees_the_totals(survey, away, member_user, committee_staff):
    answer(member_user, survey)

    totals = survey_aggregate(scope=scope_for(committee_staff), survey=survey)

    assert totals == {
        "audience": 1,
        "answered": 1,
        "intentions": {"stay": 1},
        "difficulties": {"work": 1, "housing": 1},
    }


def test_an_answer_is_seen_only_by_organisations_holding_or_hosting_the_member(
    survey,
    placed,
    member_user,
    secretary_of_a,
    secretary_of_b,
    secretary_of_c,
    outsider,
):
    answer(member_user, survey)

    def seen_by(user):
        return survey_answer_list(scope=scope_for(user), survey=survey).count()

    assert seen_by(secretary_of_a) == 1
    assert seen_by(secretary_of_c) == 1
    assert seen_by(secretary_of_b) == 0
    assert seen_by(outsider) == 0
    with pytest.raises(OutOfScope):
        survey_aggregate(scope=scope_for(secretary_of_c), survey=survey)


def test_a_secretary_of_another_branch_cannot_publish_for_the_committee(
    city_committee, secretary_of_b
):
    with pytest.raises(OutOfScope):
        services.survey_publish(
            actor=secretary_of_b, organization=city_committee, title="调查"
        )


# Yearly report


def test_mobile_members_missing_this_years_report_are_listed(
    away, member, member_user, secretary_of_a
):
    year = today().year
    missing = list(
        mobile_members_missing_yearly_report(scope=scope_for(secretary_of_a), year=year)
    )

    report = services.yearly_report_file(actor=member_user, body="今年在长沙务工……")

    assert missing == [member]
    assert (report.year, report.organization) == (year, away.outflow_organization)
    assert (
        list(
            mobile_members_missing_yearly_report(
                scope=scope_for(secretary_of_a), year=year
            )
        )
        == []
    )


def test_filing_again_in_the_same_year_replaces_the_report(away, member_user):
    services.yearly_report_file(actor=member_user, body="初稿")

    report = services.yearly_report_file(actor=member_user, body="定稿")

    assert (report.body, away.yearly_reports.count()) == ("定稿", 1)


def test_a_member_who_is_not_away_owes_no_yearly_report(member, member_user):
    with pytest.raises(services.MobilityStateError) as excinfo:
        services.yearly_report_file(actor=member_user, body="……")

    assert excinfo.value.code == "not_mobile"
