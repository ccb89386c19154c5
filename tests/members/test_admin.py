"""The member admin: scope per role, masking, edits through services, audit."""

import datetime

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from members.models import AuditEvent, CorrectionRequest, Member
from members.services import correction_request_create
from tests import factories

LIST_URL = reverse("admin:members_member_changelist")
ADD_URL = reverse("admin:members_member_add")
CORRECTIONS_URL = reverse("admin:members_correctionrequest_changelist")
AUDIT_URL = reverse("admin:members_auditevent_changelist")
PHONE_A, PHONE_B, PHONE_C = "13800138000", "13900139000", "13700137000"


def change_url(member):
    return reverse("admin:members_member_change", args=[member.pk])


def reveal_url(member):
    return reverse("admin:members_member_reveal", args=[member.pk])


@pytest.fixture
def everyone(member, branch_b, branch_c):
    member_of_b = factories.make_member(branch_b, name="李四", phone=PHONE_B)
    member_of_c = factories.make_member(branch_c, name="王五", phone=PHONE_C)
    return {"张三": member, "李四": member_of_b, "王五": member_of_c}


def listed_names(client, user, query=""):
    client.force_login(user)
    response = client.get(LIST_URL + query)
    assert response.status_code == 200
    return sorted(m.name for m in response.context["cl"].result_list)


def form_data(member, **changes):
    """The change form as the admin posts it back, with ``changes`` applied."""
    data = {
        "name": member.name,
        "gender": member.gender,
        "birth_date": member.birth_date.isoformat(),
        "ethnicity": member.ethnicity_id or "",
        "new_id_number": "",
        "new_phone": "",
        "status": member.status,
        "joined_on": member.joined_on.isoformat(),
        "full_member_on": "",
        "education": "",
        "occupation": "",
        "work_unit": member.work_unit,
        "file_custodian": "",
        "hukou_region": "",
        "hukou_address": "",
        "residence_region": "",
        "residence_address": "",
        "lost_contact_since": "",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("role", "names"),
    [
        ("secretary_of_a", ["张三"]),
        ("secretary_of_b", ["李四"]),
        ("committee_staff", ["张三", "李四"]),
        ("provincial_viewer", ["张三", "李四"]),
        ("provincial_viewer_other", ["王五"]),
        ("operator", ["张三", "李四", "王五"]),
    ],
)
def test_the_member_list_shows_exactly_the_members_in_scope(
    request, client, everyone, role, names
):
    user = request.getfixturevalue(role)

    assert listed_names(client, user) == names


def test_an_outsider_is_sent_to_log_in_and_then_refused(client, everyone, outsider):
    client.force_login(outsider)

    response = client.get(LIST_URL, follow=True)

    assert response.redirect_chain[0][0].startswith(reverse("admin:login"))
    assert response.status_code == 403


def test_staff_whose_role_has_ended_see_nothing(client, everyone, branch_a):
    user = factories.make_user("former", is_staff=True)
    factories.make_role(
        user, branch_a, "secretary", ends_on=datetime.date(2021, 12, 31)
    )
    client.force_login(user)

    response = client.get(LIST_URL)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("role", "other"),
    [
        ("secretary_of_a", "李四"),
        ("secretary_of_b", "张三"),
        ("committee_staff", "王五"),
        ("provincial_viewer", "王五"),
        ("provincial_viewer_other", "张三"),
    ],
)
def test_the_change_page_of_a_member_out_of_scope_is_404(
    request, client, everyone, role, other
):
    client.force_login(request.getfixturevalue(role))

    response = client.get(change_url(everyone[other]))

    assert response.status_code == 404


def test_a_missing_member_is_404_not_a_redirect(client, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(reverse("admin:members_member_change", args=[999999]))

    assert response.status_code == 404


def test_editing_a_member_out_of_scope_is_404_and_changes_nothing(
    client, everyone, secretary_of_a
):
    other = everyone["李四"]
    client.force_login(secretary_of_a)

    response = client.post(change_url(other), form_data(other, name="改名"))

    assert response.status_code == 404
    assert Member.objects.get(pk=other.pk).name == "李四"


def test_a_provincial_viewer_may_open_a_member_in_their_province(
    client, everyone, provincial_viewer
):
    client.force_login(provincial_viewer)

    response = client.get(change_url(everyone["张三"]))

    assert response.status_code == 200
    assert 'name="new_id_number"' not in response.content.decode()


def test_a_provincial_viewer_posting_a_change_is_403_and_nothing_changes(
    client, everyone, provincial_viewer
):
    member = everyone["张三"]
    client.force_login(provincial_viewer)

    response = client.post(change_url(member), form_data(member, name="改名"))

    assert response.status_code == 403
    assert Member.objects.get(pk=member.pk).name == "张三"


def test_a_provincial_viewer_cannot_add_members(client, provincial_viewer):
    client.force_login(provincial_viewer)

    response = client.get(ADD_URL)

    assert response.status_code == 403


def test_a_secretary_edit_is_saved_and_audited_with_who_and_which_fields(
    client, everyone, secretary_of_a
):
    member = everyone["张三"]
    client.force_login(secretary_of_a)

    response = client.post(
        change_url(member),
        form_data(member, work_unit="顺丰速运", new_phone="13811112222"),
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.work_unit, member.phone) == ("顺丰速运", "13811112222")
    event = AuditEvent.objects.get(action="member.update")
    assert event.actor == secretary_of_a
    assert event.member == member
    assert event.details == {"fields": ["phone", "work_unit"]}


def test_a_blank_id_number_input_keeps_the_number(client, everyone, secretary_of_a):
    member = everyone["张三"]
    before = member.id_number
    client.force_login(secretary_of_a)

    client.post(change_url(member), form_data(member, work_unit="新单位"))

    member.refresh_from_db()
    assert member.id_number == before


def test_a_new_id_number_is_checked_by_the_service_rules(
    client, everyone, secretary_of_a
):
    member = everyone["张三"]
    before = member.id_number
    wrong_check = before[:17] + ("0" if before[17] != "0" else "1")
    client.force_login(secretary_of_a)

    response = client.post(
        change_url(member), form_data(member, new_id_number=wrong_check)
    )

    assert response.status_code == 200
    assert [
        e.code
        for e in response.context["adminform"].form.errors.as_data()["new_id_number"]
    ] == ["id_checksum"]
    member.refresh_from_db()
    assert member.id_number == before


def test_a_valid_new_id_number_replaces_the_old_one(client, everyone, secretary_of_a):
    member = everyone["张三"]
    new_number = factories.make_id_number(birth_date=member.birth_date)
    client.force_login(secretary_of_a)

    response = client.post(
        change_url(member), form_data(member, new_id_number=new_number)
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.id_number == new_number


def test_a_secretary_adds_a_member_through_the_service(
    client, branch_a, secretary_of_a
):
    id_number = factories.make_id_number(birth_date=datetime.date(1990, 3, 1))
    client.force_login(secretary_of_a)
    data = form_data(
        Member(
            name="赵六",
            gender="male",
            birth_date=datetime.date(1990, 3, 1),
            joined_on=datetime.date(2015, 7, 1),
            status="full",
        ),
        organization=branch_a.pk,
        starts_on="2024-01-01",
        new_id_number=id_number,
        new_phone="13612345678",
    )

    response = client.post(ADD_URL, data)

    assert response.status_code == 302
    added = Member.objects.get(name="赵六")
    assert (added.id_number, added.phone) == (id_number, "13612345678")
    assert added.membership_periods.get().organization == branch_a
    assert AuditEvent.objects.filter(action="member.create", member=added).count() == 1


def test_a_secretary_cannot_add_a_member_to_another_branch(
    client, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)
    data = form_data(
        Member(
            name="赵六",
            gender="male",
            birth_date=datetime.date(1990, 3, 1),
            joined_on=datetime.date(2015, 7, 1),
            status="full",
        ),
        organization=branch_b.pk,
        starts_on="2024-01-01",
        new_id_number=factories.make_id_number(birth_date=datetime.date(1990, 3, 1)),
    )

    response = client.post(ADD_URL, data)

    assert response.status_code == 200
    assert "organization" in response.context["adminform"].form.errors
    assert not Member.objects.filter(name="赵六").exists()


def test_only_an_operator_may_delete_a_member(
    client, everyone, secretary_of_a, committee_staff
):
    member = everyone["张三"]
    delete_url = reverse("admin:members_member_delete", args=[member.pk])

    for user in (secretary_of_a, committee_staff):
        client.force_login(user)
        assert client.post(delete_url, {"post": "yes"}).status_code == 403

    assert Member.objects.filter(pk=member.pk).exists()


def test_search_by_the_exact_id_number_finds_the_member(
    client, everyone, committee_staff
):
    number = everyone["李四"].id_number

    assert listed_names(client, committee_staff, f"?q={number}") == ["李四"]


def test_search_by_phone_finds_the_member(client, everyone, committee_staff):
    assert listed_names(client, committee_staff, f"?q={PHONE_B}") == ["李四"]


def test_search_by_part_of_an_id_number_finds_nothing(
    client, everyone, committee_staff
):
    partial = everyone["李四"].id_number[:12]

    assert listed_names(client, committee_staff, f"?q={partial}") == []


def test_search_by_name_finds_the_member(client, everyone, committee_staff):
    assert listed_names(client, committee_staff, "?q=李") == ["李四"]


def test_search_never_reaches_beyond_the_scope(client, everyone, secretary_of_a):
    number = everyone["李四"].id_number

    assert listed_names(client, secretary_of_a, f"?q={number}") == []


def test_the_organisation_filter_keeps_the_members_of_that_subtree(
    client, everyone, branch_b, committee_staff
):
    assert listed_names(client, committee_staff, f"?organization={branch_b.pk}") == [
        "李四"
    ]


def test_the_organisation_filter_offers_only_organisations_in_scope(
    client, everyone, branch_a, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(LIST_URL)

    spec = next(
        f
        for f in response.context["cl"].filter_specs
        if f.parameter_name == "organization"
    )
    assert [value for value, _label in spec.lookup_choices] == [str(branch_a.pk)]


def test_filtering_by_an_organisation_out_of_scope_shows_nothing(
    client, everyone, branch_b, secretary_of_a
):
    assert listed_names(client, secretary_of_a, f"?organization={branch_b.pk}") == []


def test_the_status_filter_narrows_the_list(client, everyone, committee_staff):
    Member.objects.filter(pk=everyone["李四"].pk).update(status="probationary")

    assert listed_names(client, committee_staff, "?status__exact=probationary") == [
        "李四"
    ]


def test_the_new_employment_filter_keeps_riders_and_drivers(
    client, everyone, committee_staff
):
    from members.models import Occupation

    rider = Occupation.objects.filter(is_new_employment=True).first()
    Member.objects.filter(pk=everyone["张三"].pk).update(occupation=rider)

    assert listed_names(
        client, committee_staff, "?occupation__is_new_employment__exact=1"
    ) == ["张三"]


def test_the_living_elsewhere_filter_finds_members_in_another_province(
    client, everyone, operator
):
    # 张三's branch is in Beijing (110101); Changsha is in Hunan.
    Member.objects.filter(pk=everyone["张三"].pk).update(residence_region_id="430102")
    Member.objects.filter(pk=everyone["李四"].pk).update(residence_region_id="110102")

    assert listed_names(client, operator, "?elsewhere=yes") == ["张三"]
    assert listed_names(client, operator, "?elsewhere=no") == ["李四", "王五"]


@pytest.mark.parametrize(
    ("role", "name"),
    [
        ("secretary_of_a", "张三"),
        ("secretary_of_b", "李四"),
        ("committee_staff", "张三"),
        ("provincial_viewer", "李四"),
        ("provincial_viewer_other", "王五"),
        ("operator", "王五"),
    ],
)
def test_no_page_shows_a_plaintext_id_number_or_phone(
    request, client, everyone, role, name
):
    member = everyone[name]
    client.force_login(request.getfixturevalue(role))

    pages = [client.get(LIST_URL), client.get(change_url(member))]

    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert member.id_number not in html
        assert member.phone not in html
        assert member.masked_id_number in html
        assert member.masked_phone in html


def test_opening_a_member_records_a_view_event(client, everyone, provincial_viewer):
    member = everyone["张三"]
    client.force_login(provincial_viewer)

    client.get(change_url(member))

    event = AuditEvent.objects.get(action="member.view")
    assert (event.actor, event.member) == (provincial_viewer, member)


def test_the_detail_shows_the_membership_history(client, everyone, branch_a, operator):
    client.force_login(operator)

    response = client.get(change_url(everyone["张三"]))

    assert "<td>第一支部</td><td>2015-01-01</td>" in response.content.decode()


def test_the_detail_shows_the_audit_trail(client, everyone, secretary_of_a):
    member = everyone["张三"]
    client.force_login(secretary_of_a)
    client.post(change_url(member), form_data(member, work_unit="新单位"))

    response = client.get(change_url(member))

    assert "member.update" in response.content.decode()


def test_a_reveal_shows_the_number_once_and_records_the_reason(
    client, everyone, secretary_of_a
):
    member = everyone["张三"]
    client.force_login(secretary_of_a)

    response = client.post(reveal_url(member), {"reason": "核对组织关系转接"})

    assert response.status_code == 200
    assert member.id_number in response.content.decode()
    event = AuditEvent.objects.get(action="member.reveal_id")
    assert (event.actor, event.member) == (secretary_of_a, member)
    assert event.details["reason"] == "核对组织关系转接"


def test_a_reveal_without_a_reason_shows_nothing(client, everyone, secretary_of_a):
    member = everyone["张三"]
    client.force_login(secretary_of_a)

    response = client.post(reveal_url(member), {"reason": "  "})

    assert response.status_code == 200
    assert member.id_number not in response.content.decode()
    assert not AuditEvent.objects.filter(action="member.reveal_id").exists()


def test_a_provincial_viewer_may_not_reveal_an_id_number(
    client, everyone, provincial_viewer
):
    member = everyone["张三"]
    client.force_login(provincial_viewer)

    response = client.post(reveal_url(member), {"reason": "想看看"})

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="member.reveal_id").exists()


def test_a_reveal_out_of_scope_is_404(client, everyone, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(reveal_url(everyone["李四"]), {"reason": "核对"})

    assert response.status_code == 404


def test_the_reveal_button_shows_only_for_roles_allowed_full_numbers(
    client, everyone, secretary_of_a, provincial_viewer
):
    member = everyone["张三"]

    client.force_login(secretary_of_a)
    allowed = client.get(change_url(member)).content.decode()
    client.force_login(provincial_viewer)
    refused = client.get(change_url(member)).content.decode()

    assert reveal_url(member) in allowed
    assert reveal_url(member) not in refused


def test_the_member_list_costs_the_same_queries_for_few_and_many_members(
    client, branch_a, secretary_of_a, django_assert_max_num_queries
):
    client.force_login(secretary_of_a)
    for _ in range(3):
        factories.make_member(branch_a, phone="13800000000")
    with django_assert_max_num_queries(9):
        client.get(LIST_URL)

    for _ in range(30):
        factories.make_member(branch_a, phone="13800000000")

    with django_assert_max_num_queries(9):
        response = client.get(LIST_URL)
    assert len(response.context["cl"].result_list) == 33


# Correction requests


@pytest.fixture
def work_unit_request(member, member_user):
    return correction_request_create(
        actor=member_user, field="work_unit", requested_value="美团", reason="换工作了"
    )


def act(client, action, requests, **extra):
    data = {
        "action": action,
        "index": 0,
        helpers.ACTION_CHECKBOX_NAME: [r.pk for r in requests],
        **extra,
    }
    return client.post(CORRECTIONS_URL, data)


def test_a_secretary_approving_a_correction_applies_the_value(
    client, work_unit_request, secretary_of_a
):
    client.force_login(secretary_of_a)

    act(client, "approve", [work_unit_request])

    work_unit_request.refresh_from_db()
    assert work_unit_request.status == CorrectionRequest.Status.APPROVED
    assert work_unit_request.decided_by == secretary_of_a
    assert Member.objects.get(pk=work_unit_request.member_id).work_unit == "美团"


def test_rejecting_a_correction_asks_for_a_note_first(
    client, work_unit_request, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = act(client, "reject", [work_unit_request])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/members/correctionrequest/reject.html"
    work_unit_request.refresh_from_db()
    assert work_unit_request.status == CorrectionRequest.Status.PENDING


def test_rejecting_a_correction_with_an_empty_note_changes_nothing(
    client, work_unit_request, secretary_of_a
):
    client.force_login(secretary_of_a)

    act(client, "reject", [work_unit_request], confirm="yes", decision_note=" ")

    work_unit_request.refresh_from_db()
    assert work_unit_request.status == CorrectionRequest.Status.PENDING


def test_rejecting_a_correction_with_a_note_records_it(
    client, work_unit_request, secretary_of_a
):
    client.force_login(secretary_of_a)

    act(client, "reject", [work_unit_request], confirm="yes", decision_note="无证明")

    work_unit_request.refresh_from_db()
    assert work_unit_request.status == CorrectionRequest.Status.REJECTED
    assert work_unit_request.decision_note == "无证明"
    assert Member.objects.get(pk=work_unit_request.member_id).work_unit == ""


def test_a_secretary_sees_only_requests_of_members_they_may_change(
    client, work_unit_request, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.get(CORRECTIONS_URL)

    assert list(response.context["cl"].result_list) == []


def test_an_action_on_a_mixed_selection_changes_nothing(
    client, work_unit_request, branch_b, secretary_of_a
):
    user_b = factories.make_user("member_b")
    factories.make_member(branch_b, user=user_b)
    other = correction_request_create(
        actor=user_b, field="work_unit", requested_value="滴滴", reason="换工作"
    )
    client.force_login(secretary_of_a)

    act(client, "approve", [work_unit_request, other])

    statuses = set(CorrectionRequest.objects.values_list("status", flat=True))
    assert statuses == {CorrectionRequest.Status.PENDING}


def test_pending_requests_are_listed_first(client, member, member_user, operator):
    first = correction_request_create(
        actor=member_user, field="work_unit", requested_value="甲", reason="理由"
    )
    second = correction_request_create(
        actor=member_user, field="work_unit", requested_value="乙", reason="理由"
    )
    client.force_login(operator)
    act(client, "approve", [second])

    response = client.get(CORRECTIONS_URL)

    assert [r.pk for r in response.context["cl"].result_list] == [first.pk, second.pk]


def test_a_provincial_viewer_does_not_decide_corrections(
    client, work_unit_request, provincial_viewer
):
    client.force_login(provincial_viewer)

    response = client.get(CORRECTIONS_URL)

    assert response.status_code == 403


def test_a_requested_phone_is_shown_masked(client, member, member_user, secretary_of_a):
    correction_request_create(
        actor=member_user, field="phone", requested_value="13698765432", reason="换号"
    )
    client.force_login(secretary_of_a)

    html = client.get(CORRECTIONS_URL).content.decode()

    assert "13698765432" not in html
    assert "136****5432" in html


def test_a_correction_request_opens_read_only(
    client, work_unit_request, secretary_of_a
):
    client.force_login(secretary_of_a)
    url = reverse("admin:members_correctionrequest_change", args=[work_unit_request.pk])

    response = client.get(url)

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False


# Audit trail


def test_the_audit_trail_can_be_read_but_not_changed_even_by_an_operator(
    client, everyone, operator
):
    client.force_login(operator)
    client.get(change_url(everyone["张三"]))
    event = AuditEvent.objects.get()
    event_url = reverse("admin:members_auditevent_change", args=[event.pk])
    delete_url = reverse("admin:members_auditevent_delete", args=[event.pk])

    responses = [
        client.get(event_url),
        client.get(reverse("admin:members_auditevent_add")),
        client.post(event_url, {"action": "forged"}),
        client.post(delete_url, {"post": "yes"}),
    ]

    assert [r.status_code for r in responses] == [200, 403, 403, 403]
    assert AuditEvent.objects.get().action == "member.view"


def test_a_secretary_sees_the_audit_events_of_their_members_only(
    client, everyone, secretary_of_a, operator
):
    client.force_login(operator)
    client.get(change_url(everyone["张三"]))
    client.get(change_url(everyone["李四"]))
    client.force_login(secretary_of_a)

    response = client.get(AUDIT_URL)

    assert [e.member.name for e in response.context["cl"].result_list] == ["张三"]


@pytest.mark.parametrize(
    "query",
    ["?id_number_hash=1", "?phone_hash=1", "?id_number=1", "?phone__contains=1"],
)
def test_filtering_on_sealed_columns_through_the_url_is_refused(
    client, everyone, secretary_of_a, query
):
    client.force_login(secretary_of_a)

    response = client.get(LIST_URL + query)

    # Django answers a disallowed lookup as a bad request, not a crash.
    assert response.status_code == 400
