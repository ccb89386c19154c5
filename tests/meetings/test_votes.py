"""Votes at branch general and committee meetings (DESIGN.md §4).

Only full members whose relationship the organisation holds vote:
probationary, suspended and placed members attend but count neither among
the entitled nor among those present.
"""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from members.models import AuditEvent
from organizations.meetings import services
from organizations.models import Resolution, ResolutionVoter, Role, Standing
from organizations.scope import scope_for
from tests import factories
from tests.meetings.arrange import attendance_of, place, plan


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Users are made in most tests; Argon2 would dominate their run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def branch_of_eleven(branch_a, branch_b, secretary_of_a):
    """11 full and 2 probationary members, one suspended, one placed."""
    placed = factories.make_member(branch_b, status="full", name="外来党员")
    place(placed, outflow=branch_b, inflow=branch_a, registered_by=secretary_of_a)
    return {
        "full": [factories.make_member(branch_a, status="full") for _ in range(11)],
        "probationary": [
            factories.make_member(branch_a, status="probationary") for _ in range(2)
        ],
        "suspended": factories.make_member(branch_a, status="suspended"),
        "placed": placed,
    }


@pytest.fixture
def general_meeting(branch_a, secretary_of_a, branch_of_eleven):
    return plan(branch_a, secretary_of_a, kind="general_meeting")


def present(meeting, members, secretary):
    for member in members:
        services.record_presence(
            actor=secretary,
            scope=scope_for(secretary),
            attendance=attendance_of(meeting, member),
        )


def non_voters(branch):
    return branch["probationary"] + [branch["suspended"], branch["placed"]]


def vote(meeting, secretary, *, ayes, nays=0, abstentions=0, **kwargs):
    return services.record_resolution(
        actor=secretary,
        scope=scope_for(secretary),
        meeting=meeting,
        subject=kwargs.pop("subject", "other"),
        text=kwargs.pop("text", "通过支部工作计划"),
        ayes=ayes,
        nays=nays,
        abstentions=abstentions,
        **kwargs,
    )


def test_everyone_is_invited_with_their_standing(general_meeting, branch_of_eleven):
    standings = dict(general_meeting.attendances.values_list("member_id", "standing"))

    assert len(standings) == 15
    assert standings[branch_of_eleven["placed"].pk] == Standing.PLACED
    assert standings[branch_of_eleven["suspended"].pk] == Standing.SUSPENDED
    assert {standings[m.pk] for m in branch_of_eleven["probationary"]} == {
        Standing.PROBATIONARY
    }


def test_six_of_eleven_present_is_a_quorum_and_six_ayes_pass(
    general_meeting, branch_of_eleven, secretary_of_a
):
    full = branch_of_eleven["full"]
    present(general_meeting, full[:6] + non_voters(branch_of_eleven), secretary_of_a)

    resolution = vote(general_meeting, secretary_of_a, ayes=6, declared_passed=True)

    assert (resolution.entitled, resolution.present) == (11, 6)
    assert resolution.passed is True


def test_five_ayes_of_eleven_entitled_fail_even_with_no_nays(
    general_meeting, branch_of_eleven, secretary_of_a
):
    present(general_meeting, branch_of_eleven["full"][:6], secretary_of_a)

    resolution = vote(general_meeting, secretary_of_a, ayes=5, abstentions=1)

    assert resolution.passed is False


def test_placed_and_suspended_members_count_in_neither_number(
    general_meeting, branch_of_eleven, secretary_of_a
):
    full = branch_of_eleven["full"]
    present(general_meeting, full[:6] + non_voters(branch_of_eleven), secretary_of_a)

    resolution = vote(general_meeting, secretary_of_a, ayes=6)

    voters = ResolutionVoter.objects.filter(resolution=resolution)
    assert set(voters.values_list("member_id", flat=True)) == {m.pk for m in full}
    assert set(voters.filter(present=True).values_list("member_id", flat=True)) == {
        m.pk for m in full[:6]
    }


def test_non_voters_present_do_not_make_a_quorum(
    general_meeting, branch_of_eleven, secretary_of_a
):
    full = branch_of_eleven["full"]
    present(general_meeting, full[:5] + non_voters(branch_of_eleven), secretary_of_a)

    with pytest.raises(ValidationError) as refused:
        vote(general_meeting, secretary_of_a, ayes=5)

    assert refused.value.code == "no_quorum"


def test_without_a_quorum_nothing_is_written(
    general_meeting, branch_of_eleven, secretary_of_a
):
    present(general_meeting, branch_of_eleven["full"][:5], secretary_of_a)

    with pytest.raises(ValidationError) as refused:
        vote(general_meeting, secretary_of_a, ayes=0)

    assert refused.value.code == "no_quorum"
    assert not Resolution.objects.exists()
    assert not ResolutionVoter.objects.exists()
    assert not AuditEvent.objects.filter(action="meeting.resolution").exists()


def test_more_votes_than_voters_present_are_refused(
    general_meeting, branch_of_eleven, secretary_of_a
):
    present(general_meeting, branch_of_eleven["full"][:6], secretary_of_a)

    with pytest.raises(ValidationError) as refused:
        vote(general_meeting, secretary_of_a, ayes=6, nays=1)

    assert refused.value.code == "too_many_votes"
    assert not Resolution.objects.exists()


@pytest.mark.parametrize(
    "counts",
    [
        {"ayes": -1},
        {"ayes": 6, "nays": -1},
        {"ayes": 6, "abstentions": -2},
        {"ayes": True},
        {"ayes": 6, "nays": False},
        {"ayes": 6.0},
        {"ayes": "6"},
    ],
)
def test_negative_boolean_or_fractional_counts_are_refused(
    general_meeting, branch_of_eleven, secretary_of_a, counts
):
    present(general_meeting, branch_of_eleven["full"][:6], secretary_of_a)

    with pytest.raises(ValidationError) as refused:
        vote(general_meeting, secretary_of_a, **counts)

    assert refused.value.code == "bad_count"
    assert not Resolution.objects.exists()


def test_declaring_a_failed_vote_passed_is_refused(
    general_meeting, branch_of_eleven, secretary_of_a
):
    present(general_meeting, branch_of_eleven["full"][:7], secretary_of_a)

    with pytest.raises(ValidationError) as refused:
        vote(general_meeting, secretary_of_a, ayes=5, nays=2, declared_passed=True)

    assert refused.value.code == "not_passed"
    assert not Resolution.objects.exists()


def test_the_voters_and_an_audit_row_are_kept_with_the_resolution(
    general_meeting, branch_of_eleven, secretary_of_a
):
    concerned = branch_of_eleven["probationary"][0]
    present(general_meeting, branch_of_eleven["full"][:6], secretary_of_a)

    resolution = vote(general_meeting, secretary_of_a, ayes=6, member=concerned)

    assert resolution.voters.count() == 11
    assert resolution.recorded_by == secretary_of_a
    event = AuditEvent.objects.get(action="meeting.resolution")
    assert event.member == concerned
    assert event.details["passed"] is True


def test_votes_are_only_recorded_at_general_and_committee_meetings(
    branch_a, secretary_of_a, branch_of_eleven
):
    theme_day = plan(branch_a, secretary_of_a, kind="theme_day")

    with pytest.raises(ValidationError) as refused:
        vote(theme_day, secretary_of_a, ayes=0)

    assert refused.value.code == "not_voting_kind"


def test_a_vote_before_the_meeting_starts_is_refused(
    branch_a, secretary_of_a, branch_of_eleven
):
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    meeting = plan(branch_a, secretary_of_a, starts_at=tomorrow)

    with pytest.raises(ValidationError) as refused:
        vote(meeting, secretary_of_a, ayes=0)

    assert refused.value.code == "not_started"


# --- the database guards the outcome whatever code path writes it


@pytest.mark.parametrize(
    ("entitled", "present_count", "ayes"),
    [(11, 6, 5), (11, 5, 5), (10, 5, 5), (0, 0, 0)],
)
def test_the_database_refuses_a_resolution_passed_against_the_rules(
    general_meeting, entitled, present_count, ayes
):
    with pytest.raises(IntegrityError), transaction.atomic():
        Resolution.objects.create(
            meeting=general_meeting,
            subject="other",
            text="x",
            entitled=entitled,
            present=present_count,
            ayes=ayes,
            nays=0,
            abstentions=0,
            passed=True,
        )


def test_the_database_accepts_a_resolution_passed_by_the_rules(general_meeting):
    Resolution.objects.create(
        meeting=general_meeting,
        subject="other",
        text="x",
        entitled=11,
        present=6,
        ayes=6,
        nays=0,
        abstentions=0,
        passed=True,
    )


@pytest.mark.parametrize(
    ("present_count", "ayes", "nays"), [(12, 6, 0), (6, 6, 1), (6, 7, 0)]
)
def test_the_database_refuses_more_votes_or_voters_than_there_can_be(
    general_meeting, present_count, ayes, nays
):
    with pytest.raises(IntegrityError), transaction.atomic():
        Resolution.objects.create(
            meeting=general_meeting,
            subject="other",
            text="x",
            entitled=11,
            present=present_count,
            ayes=ayes,
            nays=nays,
            abstentions=0,
            passed=False,
        )


# --- committee decisions


@pytest.fixture
def committee(branch_a):
    """Secretary and two organisers of branch_a, all full members."""
    members = []
    for kind in ("secretary", "organiser", "organiser"):
        user = factories.make_user()
        factories.make_role(user, branch_a, kind)
        members.append(factories.make_member(branch_a, user=user, status="full"))
    return members


@pytest.fixture
def committee_meeting(branch_a, secretary_of_a, committee, branch_of_eleven):
    return plan(branch_a, secretary_of_a, kind="branch_committee")


def test_a_committee_meeting_invites_the_committee_only(committee_meeting, committee):
    invited = set(committee_meeting.attendances.values_list("member_id", flat=True))

    assert invited == {m.pk for m in committee}


def test_a_committee_vote_counts_the_committee_not_the_branch(
    committee_meeting, committee, secretary_of_a
):
    present(committee_meeting, committee[:2], secretary_of_a)

    resolution = vote(committee_meeting, secretary_of_a, ayes=2, subject="other")

    assert (resolution.entitled, resolution.present, resolution.passed) == (3, 2, True)


def test_one_of_three_committee_members_is_no_quorum(
    committee_meeting, committee, secretary_of_a
):
    present(committee_meeting, committee[:1], secretary_of_a)

    with pytest.raises(ValidationError) as refused:
        vote(committee_meeting, secretary_of_a, ayes=1, subject="other")

    assert refused.value.code == "no_quorum"


def test_a_branch_member_invited_to_a_committee_meeting_has_no_vote_there(
    committee_meeting, committee, branch_of_eleven, secretary_of_a
):
    guest = branch_of_eleven["full"][0]
    services.invite(committee_meeting, [guest])
    present(committee_meeting, [committee[0], guest], secretary_of_a)

    with pytest.raises(ValidationError) as refused:
        vote(committee_meeting, secretary_of_a, ayes=2, subject="other")

    assert refused.value.code == "no_quorum"


def test_an_ended_role_leaves_the_committee(
    branch_a, secretary_of_a, committee, branch_of_eleven
):
    Role.objects.filter(user=committee[2].user).update(
        ends_on=datetime.date(2021, 1, 1)
    )

    meeting = plan(branch_a, secretary_of_a, kind="branch_committee")

    assert set(meeting.attendances.values_list("member_id", flat=True)) == {
        committee[0].pk,
        committee[1].pk,
    }


def test_a_conversion_names_a_probationary_member_of_the_organisation(
    general_meeting, branch_of_eleven, secretary_of_a, member_of_b
):
    probationary = branch_of_eleven["probationary"][0]
    full = branch_of_eleven["full"][0]
    present(general_meeting, branch_of_eleven["full"][:6], secretary_of_a)

    for member, code in (
        (None, "member_required"),
        (full, "not_probationary"),
        (member_of_b, "member_elsewhere"),
    ):
        with pytest.raises(ValidationError) as refused:
            vote(
                general_meeting,
                secretary_of_a,
                ayes=6,
                subject="convert",
                member=member,
            )
        assert refused.value.error_dict["member"][0].code == code
    assert not Resolution.objects.exists()

    converted = vote(
        general_meeting, secretary_of_a, ayes=6, subject="convert", member=probationary
    )
    assert converted.passed
