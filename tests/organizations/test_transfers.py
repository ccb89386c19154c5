import datetime
import logging

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg2.extras import DateRange

from members.crypto import blind_index
from members.models import AuditEvent, Member, MembershipPeriod
from members.selectors import (
    Access,
    member_access,
    member_get,
    member_list,
    members_held_on,
)
from organizations import selectors, services, tasks
from organizations.models import Transfer, TransferEvent
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for
from organizations.services import TransferStateError
from tests import factories

State = Transfer.State
DAY = datetime.timedelta(days=1)


def today():
    return timezone.localdate()


def dues():
    return services.dues_required_through(today())


def draft(actor, member, to_organization=None, **kw):
    kw.setdefault("dues_paid_through", dues())
    if "to_external" not in kw:
        kw["to_organization"] = to_organization
    return services.transfer_create(actor=actor, member=member, **kw)


def issued(actor, member, to_organization=None, **kw):
    return services.transfer_issue(
        actor=actor, transfer=draft(actor, member, to_organization, **kw)
    )


def accepted(sender, receiver, member, to_organization, **kw):
    letter = issued(sender, member, to_organization, **kw)
    return services.transfer_accept(actor=receiver, transfer=letter)


def holders(member):
    periods = MembershipPeriod.objects.filter(member=member).order_by("period")
    return [
        (p.organization.code, p.period.lower, p.period.upper)
        for p in periods.select_related("organization")
    ]


def members_without_exactly_one_organisation(member_ids, first, last):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT m.id, d::date, count(p.id)
            FROM unnest(%s::bigint[]) AS m(id)
            CROSS JOIN generate_series(%s::date, %s::date, interval '1 day') AS d
            LEFT JOIN members_membershipperiod p
                ON p.member_id = m.id AND p.period @> d::date
            GROUP BY m.id, d
            HAVING count(p.id) <> 1
            """,
            [list(member_ids), first, last],
        )
        return cursor.fetchall()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Every role fixture creates a user; Argon2 at full cost would dominate
    # the run time of these tests, which never log in.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def letter(member, branch_b, secretary_of_a):
    return issued(secretary_of_a, member, branch_b)


# Issuing


def test_an_issued_letter_carries_the_fields_of_a_paper_letter(
    member, branch_b, city_committee, secretary_of_a
):
    city_committee.address, city_committee.phone = "东城区1号", "010-12345678"
    city_committee.save()

    letter = issued(secretary_of_a, member, branch_b)

    assert letter.state == State.ISSUED
    assert letter.number.startswith(f"{today().year}-")
    assert (letter.name, letter.gender, letter.is_probationary) == (
        "张三",
        "male",
        False,
    )
    assert letter.age == services._age(member.birth_date, today())
    assert letter.id_number == member.id_number
    assert (letter.issuer_address, letter.issuer_phone) == ("东城区1号", "010-12345678")
    assert letter.issued_on == today()
    assert letter.valid_until == today() + datetime.timedelta(days=30)
    assert letter.dues_paid_through == dues()
    assert len(letter.verification_code) == 10
    assert letter.from_organization == member.membership_periods.get().organization


def test_letter_numbers_follow_one_series_per_year(
    member, member_of_b, branch_a, branch_b, secretary_of_a, committee_staff
):
    first = draft(secretary_of_a, member, branch_b)
    second = draft(committee_staff, member_of_b, branch_a)

    year = today().year
    assert int(second.number.removeprefix(f"{year}-")) == (
        int(first.number.removeprefix(f"{year}-")) + 1
    )


def test_the_id_number_on_a_letter_is_stored_encrypted(letter):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number FROM organizations_transfer WHERE id = %s", [letter.pk]
        )
        stored = cursor.fetchone()[0]

    assert letter.id_number not in stored
    assert stored.startswith("dev1$")


def test_the_history_records_who_moved_the_letter_and_why(
    member, branch_b, secretary_of_a, secretary_of_b
):
    letter = issued(secretary_of_a, member, branch_b)

    services.transfer_return(actor=secretary_of_b, transfer=letter, reason="查无此人")

    steps = [
        (e.actor, e.from_state, e.to_state, e.reason)
        for e in selectors.transfer_history(letter)
    ]
    assert steps == [
        (secretary_of_a, "", State.DRAFT, ""),
        (secretary_of_a, State.DRAFT, State.ISSUED, ""),
        (secretary_of_b, State.ISSUED, State.RETURNED, "查无此人"),
    ]
    assert list(
        AuditEvent.objects.filter(member=member)
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["transfer.draft", "transfer.issued", "transfer.returned"]


# The transition table, legal and illegal


def _in_state(state, member, branch_b, secretary_of_a):
    letter = draft(secretary_of_a, member, branch_b)
    fields = {"state": state}
    if state != State.DRAFT:
        fields.update(issued_on=today(), valid_until=today() + 30 * DAY)
    if state in (State.REPORTED, State.RECEIPT_RETURNED):
        fields.update(reported_on=today(), effective_on=today())
    Transfer.objects.filter(pk=letter.pk).update(**fields)
    return Transfer.objects.get(pk=letter.pk)


def _act(target, letter, sender, receiver):
    act = {
        State.ISSUED: lambda: services.transfer_issue(actor=sender, transfer=letter),
        State.WITHDRAWN: lambda: services.transfer_withdraw(
            actor=sender, transfer=letter
        ),
        State.REISSUED: lambda: services.transfer_reissue(
            actor=sender, transfer=letter
        ),
        State.ACCEPTED: lambda: services.transfer_accept(
            actor=receiver, transfer=letter
        ),
        State.RETURNED: lambda: services.transfer_return(
            actor=receiver, transfer=letter, reason="信息有误"
        ),
        State.REPORTED: lambda: services.transfer_report(
            actor=receiver, transfer=letter
        ),
        State.RECEIPT_RETURNED: lambda: services.transfer_receipt_return(
            actor=receiver, transfer=letter
        ),
    }
    return act[target]()


TARGETS = [s for s in State if s != State.DRAFT and s != State.EXPIRED]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("source", list(State))
def test_every_transition_is_allowed_exactly_when_the_table_says_so(
    source, target, member, branch_b, secretary_of_a, secretary_of_b
):
    letter = _in_state(source, member, branch_b, secretary_of_a)

    if services.is_legal(source, target):
        _act(target, letter, secretary_of_a, secretary_of_b)
        letter.refresh_from_db()
        assert letter.state == target
        last = letter.events.last()
        assert (last.from_state, last.to_state) == (source, target)
    else:
        with pytest.raises(TransferStateError) as excinfo:
            _act(target, letter, secretary_of_a, secretary_of_b)
        assert excinfo.value.code == "transfer_state"
        letter.refresh_from_db()
        assert letter.state == source


@pytest.mark.parametrize("source", list(State))
def test_the_expiry_job_expires_only_what_the_table_allows(
    source, member, branch_b, secretary_of_a
):
    letter = _in_state(source, member, branch_b, secretary_of_a)
    Transfer.objects.filter(pk=letter.pk).update(valid_until=today() - DAY)

    expired = services.transfer_expire_due(today=today())

    letter.refresh_from_db()
    legal = services.is_legal(source, State.EXPIRED)
    assert expired == (1 if legal else 0)
    assert letter.state == (State.EXPIRED if legal else source)


def test_the_transition_table_names_every_state_but_draft_as_a_target():
    assert set(services.TRANSITIONS) == set(State) - {State.DRAFT}


def test_returning_a_letter_requires_a_reason(letter, secretary_of_b):
    with pytest.raises(ValidationError) as excinfo:
        services.transfer_return(actor=secretary_of_b, transfer=letter, reason="  ")

    assert excinfo.value.message_dict == {"reason": ["A reason is required."]}
    letter.refresh_from_db()
    assert letter.state == State.ISSUED


# One open transfer per member


def test_a_second_open_transfer_for_a_member_is_refused(
    letter, member, city_committee, secretary_of_a
):
    with pytest.raises(TransferStateError) as excinfo:
        draft(secretary_of_a, member, city_committee)

    assert excinfo.value.code == "transfer_open"
    assert Transfer.objects.filter(member=member).count() == 1


def test_the_database_refuses_a_second_open_transfer(letter):
    second = Transfer.objects.get(pk=letter.pk)
    second.pk, second.number, second.state = None, "X-1", State.DRAFT

    with pytest.raises(IntegrityError, match="transfer_one_open_per_member"):
        with transaction.atomic():
            second.save()


def test_a_closed_transfer_does_not_block_the_next(
    letter, member, city_committee, secretary_of_a
):
    services.transfer_withdraw(actor=secretary_of_a, transfer=letter, reason="改派")

    second = draft(secretary_of_a, member, city_committee)

    assert second.state == State.DRAFT


# Validity and dues


def test_validity_may_not_exceed_the_configured_maximum(
    member, branch_b, secretary_of_a, settings
):
    settings.LIUDONG_TRANSFER_VALIDITY_MAX_DAYS = 60

    with pytest.raises(ValidationError) as excinfo:
        draft(secretary_of_a, member, branch_b, validity_days=61)

    assert excinfo.value.error_dict["validity_days"][0].code == "validity_range"
    assert draft(secretary_of_a, member, branch_b, validity_days=60).validity_days == 60


def test_the_database_refuses_more_than_ninety_days(letter):
    with pytest.raises(IntegrityError, match="transfer_validity_days_range"):
        with transaction.atomic():
            Transfer.objects.filter(pk=letter.pk).update(validity_days=91)


def test_dues_must_be_paid_through_the_month_before_issue(
    member, branch_b, secretary_of_a
):
    too_early = dues().replace(day=1) - DAY

    with pytest.raises(ValidationError) as excinfo:
        draft(secretary_of_a, member, branch_b, dues_paid_through=too_early)

    assert excinfo.value.error_dict["dues_paid_through"][0].code == "dues_not_paid"


def test_a_committee_cannot_hold_the_member_it_receives(
    member, city_committee, secretary_of_a, committee_staff
):
    letter = issued(secretary_of_a, member, city_committee)
    services.transfer_accept(actor=committee_staff, transfer=letter)

    with pytest.raises(ValidationError) as excinfo:
        services.transfer_report(actor=committee_staff, transfer=letter)

    assert excinfo.value.error_dict["placed_in"][0].code == "placement_not_branch"
    assert Transfer.objects.get(pk=letter.pk).state == "accepted"


def test_dues_paid_more_than_six_months_ahead_are_refused(
    member, branch_b, secretary_of_a
):
    month = today().replace(day=1)
    six_ahead = (month + 190 * DAY).replace(day=1)
    seven_ahead = (month + 220 * DAY).replace(day=1)

    with pytest.raises(ValidationError) as excinfo:
        draft(secretary_of_a, member, branch_b, dues_paid_through=seven_ahead)
    letter = draft(secretary_of_a, member, branch_b, dues_paid_through=six_ahead)

    code = excinfo.value.error_dict["dues_paid_through"][0].code
    assert code == "dues_too_far_ahead"
    assert letter.dues_paid_through == six_ahead


def test_the_setting_can_require_dues_through_the_month_of_issue(
    member, branch_b, secretary_of_a, settings
):
    settings.LIUDONG_TRANSFER_DUES_THROUGH = "issue_month"
    previous_month = (today().replace(day=1) - DAY).replace(day=1)

    with pytest.raises(ValidationError):
        draft(secretary_of_a, member, branch_b, dues_paid_through=previous_month)

    assert draft(
        secretary_of_a, member, branch_b, dues_paid_through=today()
    ).dues_paid_through == today().replace(day=1)


# Expiry and reissue


def test_the_expiry_job_is_idempotent(letter):
    after_validity = letter.valid_until + DAY

    first = services.transfer_expire_due(today=after_validity)
    second = services.transfer_expire_due(today=after_validity)

    letter.refresh_from_db()
    assert (first, second) == (1, 0)
    assert letter.state == State.EXPIRED
    assert letter.events.filter(to_state=State.EXPIRED, actor=None).count() == 1
    assert AuditEvent.objects.filter(action="transfer.expired").count() == 1


def test_a_letter_is_still_valid_on_its_last_day(letter):
    assert services.transfer_expire_due(today=letter.valid_until) == 0


def test_an_expired_letter_cannot_be_accepted(letter, secretary_of_b):
    services.transfer_expire_due(today=letter.valid_until + DAY)

    with pytest.raises(TransferStateError) as excinfo:
        services.transfer_accept(actor=secretary_of_b, transfer=letter)

    assert excinfo.value.code == "transfer_state"


def test_a_letter_past_validity_cannot_be_accepted_before_the_job_runs(
    letter, secretary_of_b
):
    Transfer.objects.filter(pk=letter.pk).update(valid_until=today() - DAY)

    with pytest.raises(TransferStateError) as excinfo:
        services.transfer_accept(actor=secretary_of_b, transfer=letter)

    assert excinfo.value.code == "transfer_expired"


def test_reissuing_voids_the_old_letter_and_links_the_new_one(
    letter, secretary_of_a, secretary_of_b
):
    services.transfer_expire_due(today=letter.valid_until + DAY)

    new = services.transfer_reissue(actor=secretary_of_a, transfer=letter)

    letter.refresh_from_db()
    assert letter.state == State.REISSUED
    assert (new.reissue_of, letter.reissued_as) == (letter, new)
    assert new.state == State.ISSUED
    assert new.number != letter.number
    assert new.valid_until == today() + datetime.timedelta(days=30)
    assert services.transfer_accept(actor=secretary_of_b, transfer=new).state == (
        State.ACCEPTED
    )


def test_only_the_sending_side_reissues(letter, secretary_of_b):
    with pytest.raises(PermissionDenied) as excinfo:
        services.transfer_reissue(actor=secretary_of_b, transfer=letter)

    assert type(excinfo.value) is PermissionDenied


# Completion moves the membership


def test_completion_ends_the_old_period_the_day_before_and_starts_the_new(
    letter, member, secretary_of_b
):
    services.transfer_accept(actor=secretary_of_b, transfer=letter)

    done = services.transfer_report(actor=secretary_of_b, transfer=letter)

    assert done.state == State.REPORTED
    assert (done.reported_on, done.effective_on) == (today(), today())
    assert holders(member) == [
        ("B-A", datetime.date(2015, 1, 1), today()),
        ("B-B", today(), None),
    ]


def test_access_follows_the_membership_at_once(
    letter, member, secretary_of_a, secretary_of_b
):
    services.transfer_accept(actor=secretary_of_b, transfer=letter)
    before = (
        member_access(scope=scope_for(secretary_of_a), member=member),
        member_access(scope=scope_for(secretary_of_b), member=member),
    )

    services.transfer_report(actor=secretary_of_b, transfer=letter)

    assert before == (Access.FULL, Access.NONE)
    assert member_access(scope=scope_for(secretary_of_b), member=member) is Access.FULL
    assert member_access(scope=scope_for(secretary_of_a), member=member) is Access.NONE
    with pytest.raises(OutOfScope):
        member_get(scope=scope_for(secretary_of_a), member_id=member.pk)


def test_reports_for_days_before_a_transfer_count_the_member_where_they_were(
    letter, member, branch_a, branch_b, secretary_of_a, secretary_of_b
):
    services.transfer_accept(actor=secretary_of_b, transfer=letter)
    services.transfer_report(actor=secretary_of_b, transfer=letter)
    yesterday = today() - DAY

    assert list(members_held_on(organization=branch_a, on=yesterday)) == [member]
    assert list(members_held_on(organization=branch_b, on=yesterday)) == []
    assert list(members_held_on(organization=branch_a, on=today())) == []
    assert list(members_held_on(organization=branch_b, on=today())) == [member]
    past_scope = scope_for(secretary_of_a, on=yesterday)
    assert list(member_list(scope=past_scope, on=yesterday)) == [member]


def test_the_exclusion_constraint_holds_across_a_transfer(
    letter, member, branch_a, secretary_of_b
):
    services.transfer_accept(actor=secretary_of_b, transfer=letter)
    services.transfer_report(actor=secretary_of_b, transfer=letter)

    with pytest.raises(IntegrityError, match="membership_period_no_overlap"):
        with transaction.atomic():
            MembershipPeriod.objects.create(
                member=member,
                organization=branch_a,
                period=DateRange(today() - DAY, today() + DAY),
            )
    assert (
        members_without_exactly_one_organisation(
            [member.pk], datetime.date(2015, 1, 1), today() + DAY
        )
        == []
    )


def test_the_receiving_side_places_the_member_in_a_branch_below_it(
    member, city_committee, branch_b, secretary_of_a, committee_staff
):
    letter = accepted(secretary_of_a, committee_staff, member, city_committee)

    done = services.transfer_report(
        actor=committee_staff, transfer=letter, placed_in=branch_b
    )

    assert done.placed_in == branch_b
    assert holders(member)[-1] == ("B-B", today(), None)


def test_a_placement_outside_the_receiving_organisation_is_refused(
    member, branch_b, branch_c, secretary_of_a, secretary_of_b
):
    letter = accepted(secretary_of_a, secretary_of_b, member, branch_b)

    with pytest.raises(ValidationError) as excinfo:
        services.transfer_report(
            actor=secretary_of_b, transfer=letter, placed_in=branch_c
        )

    assert list(excinfo.value.message_dict) == ["placed_in"]
    assert len(holders(member)) == 1


def test_the_member_may_report_in_the_portal(
    member, member_user, branch_b, secretary_of_a, secretary_of_b
):
    letter = accepted(secretary_of_a, secretary_of_b, member, branch_b)

    services.transfer_report(actor=member_user, transfer=letter)

    assert holders(member)[-1] == ("B-B", today(), None)


def test_the_receipt_is_recorded_by_the_receiving_side(
    letter, secretary_of_b, secretary_of_a
):
    services.transfer_accept(actor=secretary_of_b, transfer=letter)
    services.transfer_report(actor=secretary_of_b, transfer=letter)

    with pytest.raises(PermissionDenied):
        services.transfer_receipt_return(actor=secretary_of_a, transfer=letter)
    done = services.transfer_receipt_return(actor=secretary_of_b, transfer=letter)

    assert (done.state, done.receipt_returned_on) == (State.RECEIPT_RETURNED, today())


# Future-dated transfers


def test_a_future_dated_transfer_moves_on_its_day_with_no_job(
    member, branch_b, secretary_of_a, secretary_of_b
):
    effective = today() + 10 * DAY
    letter = accepted(
        secretary_of_a, secretary_of_b, member, branch_b, effective_on=effective
    )

    services.transfer_report(actor=secretary_of_b, transfer=letter)

    def access(user, day):
        return member_access(scope=scope_for(user, on=day), member=member, on=day)

    day_before = effective - DAY
    assert access(secretary_of_a, today()) is Access.FULL
    assert access(secretary_of_b, today()) is Access.NONE
    assert access(secretary_of_a, day_before) is Access.FULL
    assert access(secretary_of_b, day_before) is Access.NONE
    assert access(secretary_of_a, effective) is Access.NONE
    assert access(secretary_of_b, effective) is Access.FULL
    assert holders(member) == [
        ("B-A", datetime.date(2015, 1, 1), effective),
        ("B-B", effective, None),
    ]


def test_a_pending_move_blocks_another_transfer_until_it_takes_effect(
    member, branch_b, city_committee, secretary_of_a, secretary_of_b
):
    letter = accepted(
        secretary_of_a,
        secretary_of_b,
        member,
        branch_b,
        effective_on=today() + 5 * DAY,
    )
    services.transfer_report(actor=secretary_of_b, transfer=letter)

    with pytest.raises(TransferStateError) as excinfo:
        draft(secretary_of_a, member, city_committee)

    assert excinfo.value.code == "move_pending"


def test_a_transfer_cannot_take_effect_in_the_past(member, branch_b, secretary_of_a):
    with pytest.raises(ValidationError) as excinfo:
        draft(secretary_of_a, member, branch_b, effective_on=today() - DAY)

    assert excinfo.value.error_dict["effective_on"][0].code == "effective_in_past"


# Out of the system


def test_a_transfer_out_of_the_system_ends_the_membership(member, secretary_of_a):
    letter = issued(secretary_of_a, member, to_external="广东省深圳市某街道党工委")
    services.transfer_accept(actor=secretary_of_a, transfer=letter)

    services.transfer_report(actor=secretary_of_a, transfer=letter)

    member.refresh_from_db()
    assert member.status == Member.Status.TRANSFERRED_OUT
    assert holders(member) == [("B-A", datetime.date(2015, 1, 1), today())]


def test_the_member_cannot_complete_a_transfer_out_of_the_system(
    member, member_user, secretary_of_a
):
    letter = issued(secretary_of_a, member, to_external="外省某党委")
    services.transfer_accept(actor=secretary_of_a, transfer=letter)

    with pytest.raises(PermissionDenied):
        services.transfer_report(actor=member_user, transfer=letter)

    member.refresh_from_db()
    assert member.status == Member.Status.FULL
    assert Transfer.objects.get(pk=letter.pk).state == "accepted"


def test_a_future_transfer_out_takes_effect_through_the_nightly_job(
    member, secretary_of_a
):
    effective = today() + 3 * DAY
    letter = issued(
        secretary_of_a, member, to_external="外省某党委", effective_on=effective
    )
    services.transfer_accept(actor=secretary_of_a, transfer=letter)
    services.transfer_report(actor=secretary_of_a, transfer=letter)

    early = services.transfer_activate_due(today=effective - DAY)
    member.refresh_from_db()
    status_before = member.status
    on_the_day = tasks.activate_due_transfers.apply(args=[effective.isoformat()]).get()
    again = services.transfer_activate_due(today=effective)

    member.refresh_from_db()
    assert (early, status_before) == (0, Member.Status.FULL)
    assert (on_the_day, again) == (1, 0)
    assert member.status == Member.Status.TRANSFERRED_OUT


def test_a_letter_names_exactly_one_destination(member, branch_b, secretary_of_a):
    with pytest.raises(ValidationError) as excinfo:
        services.transfer_create(
            actor=secretary_of_a,
            member=member,
            to_organization=branch_b,
            to_external="外省某党委",
            dues_paid_through=dues(),
        )

    assert excinfo.value.code == "destination"
    assert Transfer.objects.count() == 0


# Letters from outside the system


def _scan(content=b"%PDF-1.7 scan", name="张三 介绍信.pdf"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def _register(actor, to_organization, **kw):
    fields = dict(
        actor=actor,
        to_organization=to_organization,
        from_external="河北省某县委组织部",
        external_number="冀组转〔2026〕12号",
        scan=_scan(),
        name="赵六",
        gender="female",
        id_number=factories.make_id_number(
            birth_date=datetime.date(1990, 5, 4), gender="female"
        ),
        joined_on=datetime.date(2015, 7, 1),
        issued_on=today() - 2 * DAY,
    )
    fields.update(kw)
    return services.transfer_register_incoming(**fields)


def test_a_letter_from_outside_is_registered_with_its_scan_and_completed(
    branch_b, secretary_of_b, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    letter = _register(secretary_of_b, branch_b)

    services.transfer_accept(actor=secretary_of_b, transfer=letter)
    done = services.transfer_report(actor=secretary_of_b, transfer=letter)

    assert letter.letter_scan.name.startswith("transfers/letters/")
    assert letter.letter_scan.name.endswith(".pdf")
    assert "张三" not in letter.letter_scan.name
    assert (tmp_path / letter.letter_scan.name).read_bytes() == b"%PDF-1.7 scan"
    assert done.member.name == "赵六"
    assert done.member.birth_date == datetime.date(1990, 5, 4)
    assert bytes(done.member.id_number_hash) == blind_index(letter.id_number)
    assert holders(done.member) == [("B-B", today(), None)]


def test_a_scan_that_is_not_a_pdf_or_an_image_is_refused(
    branch_b, secretary_of_b, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path

    with pytest.raises(ValidationError) as excinfo:
        _register(secretary_of_b, branch_b, scan=_scan(b"MZ\x90\x00", "letter.pdf"))

    assert excinfo.value.error_dict["scan"][0].code == "scan_type"
    assert Transfer.objects.count() == 0


def test_a_letter_from_outside_for_a_member_held_here_is_refused(
    member, branch_b, secretary_of_b, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path

    with pytest.raises(TransferStateError) as excinfo:
        _register(
            secretary_of_b,
            branch_b,
            name=member.name,
            gender=member.gender,
            id_number=member.id_number,
        )

    assert excinfo.value.code == "member_held"


# Who may do what


def test_a_secretary_of_another_branch_cannot_draft_for_the_member(
    member, branch_b, secretary_of_b
):
    with pytest.raises(OutOfScope):
        draft(secretary_of_b, member, branch_b)


def test_a_provincial_viewer_may_not_issue(member, branch_b, provincial_viewer):
    with pytest.raises(ReadOnlyScope):
        draft(provincial_viewer, member, branch_b)


def test_a_provincial_viewer_may_not_accept(letter, provincial_viewer):
    with pytest.raises(ReadOnlyScope):
        services.transfer_accept(actor=provincial_viewer, transfer=letter)


@pytest.mark.parametrize("who", ["outsider", "provincial_viewer_other"])
def test_someone_out_of_scope_on_both_sides_gets_not_found(letter, who, request):
    user = request.getfixturevalue(who)

    with pytest.raises(OutOfScope):
        services.transfer_accept(actor=user, transfer=letter)
    with pytest.raises(OutOfScope):
        services.transfer_withdraw(actor=user, transfer=letter)


def test_the_sending_secretary_may_not_accept_their_own_letter(letter, secretary_of_a):
    with pytest.raises(PermissionDenied) as excinfo:
        services.transfer_accept(actor=secretary_of_a, transfer=letter)

    assert type(excinfo.value) is PermissionDenied


def test_the_receiving_secretary_may_not_withdraw_the_letter(letter, secretary_of_b):
    with pytest.raises(PermissionDenied) as excinfo:
        services.transfer_withdraw(actor=secretary_of_b, transfer=letter)

    assert type(excinfo.value) is PermissionDenied


def test_the_member_may_not_accept_their_own_letter(letter, member_user):
    with pytest.raises(PermissionDenied) as excinfo:
        services.transfer_accept(actor=member_user, transfer=letter)

    assert type(excinfo.value) is PermissionDenied


# Queues and reads


def test_each_side_sees_the_letter_in_its_queue(
    letter, secretary_of_a, secretary_of_b, provincial_viewer_other
):
    def numbers(queryset):
        return [t.number for t in queryset]

    assert numbers(selectors.transfers_outgoing(scope=scope_for(secretary_of_a))) == [
        letter.number
    ]
    assert numbers(selectors.transfers_incoming(scope=scope_for(secretary_of_b))) == [
        letter.number
    ]
    assert numbers(selectors.transfers_incoming(scope=scope_for(secretary_of_a))) == []
    assert numbers(selectors.transfers_outgoing(scope=scope_for(secretary_of_b))) == []
    other = scope_for(provincial_viewer_other)
    assert numbers(selectors.transfer_list(scope=other)) == []


def test_a_transfer_out_of_scope_answers_not_found(letter, outsider):
    with pytest.raises(OutOfScope):
        selectors.transfer_get(scope=scope_for(outsider), transfer_id=letter.pk)


def test_the_member_sees_where_their_letter_stands(letter, member_user):
    own = selectors.transfer_get(scope=scope_for(member_user), transfer_id=letter.pk)

    assert own.state == State.ISSUED
    assert [t.pk for t in selectors.transfers_own(user=member_user)] == [letter.pk]


def test_letters_about_to_expire_are_listed_for_the_sender(letter, secretary_of_a):
    soon = letter.valid_until - 3 * DAY

    expiring = selectors.transfers_expiring(scope=scope_for(secretary_of_a), on=soon)

    assert [t.pk for t in expiring] == [letter.pk]
    assert list(selectors.transfers_expiring(scope=scope_for(secretary_of_a))) == []


def test_receipts_not_returned_within_a_month_are_overdue(
    letter, secretary_of_a, secretary_of_b, caplog
):
    services.transfer_accept(actor=secretary_of_b, transfer=letter)
    services.transfer_report(actor=secretary_of_b, transfer=letter)
    arrived = today() - datetime.timedelta(days=40)
    Transfer.objects.filter(pk=letter.pk).update(reported_on=arrived)

    receiving = scope_for(secretary_of_b)
    with caplog.at_level(logging.WARNING, logger="organizations.tasks"):
        flagged = tasks.flag_overdue_receipts.apply(args=[today().isoformat()]).get()

    assert flagged == 1
    assert "transfer receipts overdue count=1" in caplog.text
    assert [t.pk for t in selectors.transfers_receipt_overdue(today=today())] == [
        letter.pk
    ]
    assert (
        selectors.transfers_receipt_overdue(today=today(), scope=receiving).count() == 1
    )
    sending = scope_for(secretary_of_a)
    assert (
        selectors.transfers_receipt_overdue(today=today(), scope=sending).count() == 0
    )


def test_a_receipt_within_the_month_is_not_overdue(letter, secretary_of_b):
    services.transfer_accept(actor=secretary_of_b, transfer=letter)
    services.transfer_report(actor=secretary_of_b, transfer=letter)

    assert selectors.transfers_receipt_overdue(today=today() + 28 * DAY).count() == 0


# Bulk moves of a whole organisation


def make_many_members(organization, count, since):
    members = Member.objects.bulk_create(
        [
            Member(
                name=f"成员{i}",
                gender="male",
                birth_date=datetime.date(1985, 6, 15),
                joined_on=datetime.date(2010, 7, 1),
                id_number=f"110101198506{i:06d}",
                id_number_hash=blind_index(f"110101198506{i:06d}"),
            )
            for i in range(count)
        ],
        batch_size=5000,
    )
    ids = [m.pk for m in members]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO members_membershipperiod"
            " (member_id, organization_id, period, created_at)"
            " SELECT id, %s, daterange(%s, NULL, '[)'), now()"
            " FROM unnest(%s::bigint[]) AS id",
            [organization.pk, since, ids],
        )
    return ids


def test_a_bulk_move_of_ten_thousand_members_leaves_each_in_exactly_one_organisation(
    branch_a, branch_b, committee_staff, secretary_of_b
):
    since = today() - 3 * DAY
    ids = make_many_members(branch_a, 10_000, since)

    moved = services.transfer_bulk_move(
        actor=committee_staff,
        from_organization=branch_a,
        to_organization=branch_b,
        reason="支部撤销合并",
    )

    assert moved == 10_000
    assert members_without_exactly_one_organisation(ids, since, today() + DAY) == []
    assert members_held_on(organization=branch_a, on=today() - DAY).count() == 10_000
    assert members_held_on(organization=branch_b, on=today()).count() == 10_000
    assert member_list(scope=scope_for(secretary_of_b)).count() == 10_000
    assert Transfer.objects.filter(state=State.RECEIPT_RETURNED).count() == 10_000
    assert TransferEvent.objects.count() == 20_000
    assert AuditEvent.objects.filter(action="transfer.bulk_move").count() == 10_001


def test_a_bulk_move_dated_in_the_future_moves_everyone_on_that_day(
    member, branch_a, branch_b, committee_staff
):
    effective = today() + 7 * DAY

    services.transfer_bulk_move(
        actor=committee_staff,
        from_organization=branch_a,
        to_organization=branch_b,
        reason="合并",
        effective_on=effective,
    )

    assert holders(member) == [
        ("B-A", datetime.date(2015, 1, 1), effective),
        ("B-B", effective, None),
    ]


def test_a_member_who_joined_on_the_day_of_a_bulk_move_is_moved_without_a_gap(
    branch_a, branch_b, committee_staff
):
    newcomer = factories.make_member(branch_a, since=today())

    services.transfer_bulk_move(
        actor=committee_staff,
        from_organization=branch_a,
        to_organization=branch_b,
        reason="合并",
    )

    assert holders(newcomer) == [("B-B", today(), None)]


def test_a_bulk_move_waits_for_open_transfers_to_be_settled(
    letter, branch_a, branch_b, committee_staff, member
):
    with pytest.raises(TransferStateError) as excinfo:
        services.transfer_bulk_move(
            actor=committee_staff,
            from_organization=branch_a,
            to_organization=branch_b,
            reason="合并",
        )

    assert excinfo.value.code == "bulk_blocked"
    assert len(holders(member)) == 1


def test_a_bulk_move_needs_write_access_to_both_organisations(
    member, branch_a, branch_c, secretary_of_a
):
    with pytest.raises(OutOfScope):
        services.transfer_bulk_move(
            actor=secretary_of_a,
            from_organization=branch_a,
            to_organization=branch_c,
            reason="合并",
        )

    assert len(holders(member)) == 1
