"""Rules found by trying to break the record services from the outside."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from members import services
from members.models import CorrectionRequest
from tests import factories


@pytest.fixture
def secretary_member(branch_a, secretary_of_a):
    return factories.make_member(branch_a, user=secretary_of_a, phone="13900009999")


def codes(excinfo):
    return {f: [e.code for e in errs] for f, errs in excinfo.value.error_dict.items()}


def test_a_phone_already_on_another_record_is_refused(member, secretary_of_a, branch_a):
    other = factories.make_member(branch_a)

    with pytest.raises(ValidationError) as excinfo:
        services.member_update(actor=secretary_of_a, member=other, phone="13800138000")

    assert codes(excinfo) == {"phone": ["phone_taken"]}
    other.refresh_from_db()
    assert other.phone == ""


def test_a_member_cannot_be_held_before_they_joined(branch_a, secretary_of_a):
    birth = datetime.date(1990, 5, 4)

    with pytest.raises(ValidationError) as excinfo:
        services.member_create(
            actor=secretary_of_a,
            organization=branch_a,
            starts_on=datetime.date(1800, 1, 1),
            name="赵六",
            gender="female",
            id_number=factories.make_id_number(birth_date=birth, gender="female"),
            birth_date=birth,
            joined_on=datetime.date(2015, 7, 1),
        )

    assert codes(excinfo) == {"starts_on": ["starts_before_joined"]}


def test_lost_contact_cannot_start_in_the_future(member, secretary_of_a):
    with pytest.raises(ValidationError) as excinfo:
        services.member_update(
            actor=secretary_of_a,
            member=member,
            lost_contact_since=datetime.date(2099, 1, 1),
        )

    assert codes(excinfo) == {"lost_contact_since": ["date_in_future"]}


def test_a_secretary_cannot_edit_their_own_record(secretary_member, secretary_of_a):
    with pytest.raises(PermissionDenied):
        services.member_update(
            actor=secretary_of_a, member=secretary_member, work_unit="x"
        )

    secretary_member.refresh_from_db()
    assert secretary_member.work_unit == ""


def test_a_secretary_cannot_decide_their_own_correction(
    secretary_member, secretary_of_a
):
    request = services.correction_request_create(
        actor=secretary_of_a, field="work_unit", requested_value="x", reason="y"
    )

    with pytest.raises(PermissionDenied):
        services.correction_request_decide(
            actor=secretary_of_a, request=request, approve=True
        )

    assert CorrectionRequest.objects.get().status == "pending"


def test_the_same_correction_sent_twice_is_queued_once(member, member_user):
    first = services.correction_request_create(
        actor=member_user, field="work_unit", requested_value="美团", reason="换工作"
    )
    second = services.correction_request_create(
        actor=member_user, field="work_unit", requested_value=" 美团 ", reason="重复"
    )

    assert first.pk == second.pk
    assert CorrectionRequest.objects.count() == 1


def test_reveals_are_limited_per_person_and_hour(member, secretary_of_a, settings):
    settings.LIUDONG_REVEALS_PER_HOUR = 2
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "reveal-limit",
        }
    }
    for _attempt in range(2):
        services.id_number_reveal(actor=secretary_of_a, member=member, reason="核对")

    with pytest.raises(PermissionDenied):
        services.id_number_reveal(actor=secretary_of_a, member=member, reason="核对")
