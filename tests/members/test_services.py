import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from members import services
from members.crypto import blind_index
from members.models import AuditEvent, CorrectionRequest, Member
from organizations.scope import OutOfScope
from tests import factories

BIRTH = datetime.date(1990, 5, 4)


def create(actor, organization, **overrides):
    fields = dict(
        actor=actor,
        organization=organization,
        starts_on=datetime.date(2024, 1, 1),
        name="赵六",
        gender="female",
        id_number=factories.make_id_number(birth_date=BIRTH, gender="female"),
        birth_date=BIRTH,
        joined_on=datetime.date(2015, 7, 1),
        phone="139 0000 1111",
    )
    fields.update(overrides)
    return services.member_create(**fields)


def error_codes(excinfo):
    return {f: [e.code for e in errs] for f, errs in excinfo.value.error_dict.items()}


def test_a_secretary_creates_a_member_in_their_branch(branch_a, secretary_of_a):
    member = create(secretary_of_a, branch_a)

    assert member.phone == "13900001111"
    assert bytes(member.id_number_hash) == blind_index(member.id_number)
    assert member.membership_periods.get().organization == branch_a
    assert AuditEvent.objects.filter(action="member.create", member=member).count() == 1


def test_creating_outside_the_scope_is_refused_as_not_found(branch_b, secretary_of_a):
    with pytest.raises(OutOfScope):
        create(secretary_of_a, branch_b)

    assert Member.objects.count() == 0


def test_a_provincial_viewer_cannot_create(branch_a, provincial_viewer):
    with pytest.raises(PermissionDenied):
        create(provincial_viewer, branch_a)

    assert Member.objects.count() == 0


def test_a_second_member_with_the_same_id_number_is_refused(branch_a, secretary_of_a):
    first = create(secretary_of_a, branch_a)

    with pytest.raises(ValidationError) as excinfo:
        create(secretary_of_a, branch_a, id_number=first.id_number.lower())

    assert error_codes(excinfo) == {"id_number": ["duplicate"]}
    assert Member.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"id_number": "110101199005040021"}, {"id_number": ["id_checksum"]}),
        (
            {"birth_date": datetime.date(1990, 5, 5)},
            {"birth_date": ["id_birth_mismatch"]},
        ),
        ({"gender": "male"}, {"gender": ["id_gender_mismatch"]}),
        ({"joined_on": datetime.date(2008, 5, 3)}, {"joined_on": ["joined_before_18"]}),
        ({"joined_on": datetime.date(2099, 1, 1)}, {"joined_on": ["date_in_future"]}),
        (
            {"full_member_on": datetime.date(2015, 6, 30)},
            {"full_member_on": ["full_before_joined"]},
        ),
        ({"phone": "12345"}, {"phone": ["phone_invalid"]}),
    ],
)
def test_bad_records_are_refused_with_a_code_and_nothing_written(
    branch_a, secretary_of_a, overrides, expected
):
    with pytest.raises(ValidationError) as excinfo:
        create(secretary_of_a, branch_a, **overrides)

    assert error_codes(excinfo) == expected
    assert Member.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_joining_on_the_eighteenth_birthday_is_allowed(branch_a, secretary_of_a):
    member = create(secretary_of_a, branch_a, joined_on=datetime.date(2008, 5, 4))

    assert member.joined_on == datetime.date(2008, 5, 4)


def test_an_update_records_who_changed_which_fields(member, secretary_of_a):
    services.member_update(
        actor=secretary_of_a, member=member, work_unit="顺丰", phone="13911112222"
    )

    member.refresh_from_db()
    event = AuditEvent.objects.get(action="member.update")
    assert (member.work_unit, member.phone) == ("顺丰", "13911112222")
    assert bytes(member.phone_hash) == blind_index("13911112222")
    assert event.actor == secretary_of_a
    assert event.details == {"fields": ["phone", "work_unit"]}


def test_a_failed_update_changes_nothing(member, secretary_of_a):
    with pytest.raises(ValidationError):
        services.member_update(
            actor=secretary_of_a,
            member=member,
            work_unit="x",
            birth_date=datetime.date(1999, 1, 1),
        )

    member.refresh_from_db()
    assert member.work_unit == ""
    assert not AuditEvent.objects.exists()


def test_updates_out_of_scope_or_read_only_are_refused(
    member, secretary_of_b, provincial_viewer
):
    with pytest.raises(OutOfScope):
        services.member_update(actor=secretary_of_b, member=member, work_unit="x")
    with pytest.raises(PermissionDenied):
        services.member_update(actor=provincial_viewer, member=member, work_unit="x")

    member.refresh_from_db()
    assert member.work_unit == ""


def test_a_reveal_needs_a_reason_and_is_logged(member, secretary_of_a):
    with pytest.raises(ValidationError):
        services.id_number_reveal(actor=secretary_of_a, member=member, reason=" ")

    number = services.id_number_reveal(
        actor=secretary_of_a, member=member, reason="转接核对"
    )

    assert number == member.id_number
    event = AuditEvent.objects.get(action="member.reveal_id")
    assert event.details == {"reason": "转接核对"}


def test_a_provincial_viewer_cannot_reveal(member, provincial_viewer):
    with pytest.raises(PermissionDenied):
        services.id_number_reveal(actor=provincial_viewer, member=member, reason="统计")

    assert not AuditEvent.objects.filter(action="member.reveal_id").exists()


def test_a_member_cannot_reveal_through_the_service(member, member_user, member_of_b):
    with pytest.raises(OutOfScope):
        services.id_number_reveal(actor=member_user, member=member_of_b, reason="x")


def test_a_member_requests_a_correction_and_the_secretary_approves(
    member, member_user, secretary_of_a
):
    request = services.correction_request_create(
        actor=member_user, field="phone", requested_value="139-0000-2222", reason="换号"
    )

    services.correction_request_decide(
        actor=secretary_of_a, request=request, approve=True
    )

    member.refresh_from_db()
    request.refresh_from_db()
    assert member.phone == "13900002222"
    assert request.status == CorrectionRequest.Status.APPROVED
    assert request.decided_by == secretary_of_a


def test_a_rejection_needs_a_note_and_changes_nothing(
    member, member_user, secretary_of_a
):
    request = services.correction_request_create(
        actor=member_user, field="work_unit", requested_value="美团", reason="换工作"
    )

    with pytest.raises(ValidationError):
        services.correction_request_decide(
            actor=secretary_of_a, request=request, approve=False
        )
    services.correction_request_decide(
        actor=secretary_of_a, request=request, approve=False, note="请提供证明"
    )

    member.refresh_from_db()
    assert member.work_unit == ""
    assert CorrectionRequest.objects.get().status == "rejected"


def test_a_decided_request_cannot_be_decided_again(member, member_user, secretary_of_a):
    request = services.correction_request_create(
        actor=member_user, field="work_unit", requested_value="美团", reason="换工作"
    )
    services.correction_request_decide(
        actor=secretary_of_a, request=request, approve=True
    )

    with pytest.raises(ValidationError):
        services.correction_request_decide(
            actor=secretary_of_a, request=request, approve=False, note="x"
        )


def test_another_branch_cannot_decide(member, member_user, secretary_of_b):
    request = services.correction_request_create(
        actor=member_user, field="work_unit", requested_value="美团", reason="换工作"
    )

    with pytest.raises(OutOfScope):
        services.correction_request_decide(
            actor=secretary_of_b, request=request, approve=True
        )


@pytest.mark.parametrize("field", ["id_number", "status", "organization"])
def test_protected_fields_cannot_be_requested(member, member_user, field):
    with pytest.raises(ValidationError):
        services.correction_request_create(
            actor=member_user, field=field, requested_value="x", reason="x"
        )


def test_a_code_table_correction_accepts_a_name(member, member_user, secretary_of_a):
    request = services.correction_request_create(
        actor=member_user,
        field="education",
        requested_value="大学本科毕业",
        reason="学历提升",
    )

    services.correction_request_decide(
        actor=secretary_of_a, request=request, approve=True
    )

    member.refresh_from_db()
    assert member.education.name == "大学本科毕业"


def test_plaintext_never_reaches_the_database(member):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM members_member")
        dump = repr(cursor.fetchall())

    assert member.id_number not in dump
    assert "13800138000" not in dump
    assert member.id_number[:6] + "*" not in dump
