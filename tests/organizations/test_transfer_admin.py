"""The transfer admin: queues, index counts, every step, letters and scans."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from members.models import AuditEvent
from organizations import services
from organizations.models import Transfer
from tests import factories

State = Transfer.State
DAY = datetime.timedelta(days=1)
LIST_URL = reverse("admin:organizations_transfer_changelist")
INDEX_URL = reverse("admin:index")


def today():
    return timezone.localdate()


def change_url(transfer):
    return reverse("admin:organizations_transfer_change", args=[transfer.pk])


def step_url(transfer, step):
    return reverse("admin:organizations_transfer_step", args=[transfer.pk, step])


def letter_url(transfer):
    return reverse("admin:organizations_transfer_letter", args=[transfer.pk])


def scan_url(transfer):
    return reverse("admin:organizations_transfer_scan", args=[transfer.pk])


def create_url(member):
    return reverse("admin:organizations_transfer_add") + f"?member={member.pk}"


def draft(actor, member, to_organization):
    return services.transfer_create(
        actor=actor,
        member=member,
        to_organization=to_organization,
        dues_paid_through=services.dues_required_through(today()),
    )


def issued(actor, member, to_organization):
    letter = draft(actor, member, to_organization)
    return services.transfer_issue(actor=actor, transfer=letter)


def state_of(transfer):
    return Transfer.objects.get(pk=transfer.pk).state


def queue_numbers(client, user, queue):
    client.force_login(user)
    response = client.get(LIST_URL, {"queue": queue})
    assert response.status_code == 200
    return sorted(t.number for t in response.context["cl"].result_list)


def index_counts(response):
    return {
        line.queue.key: line.count
        for _section, lines in response.context["queue_sections"]
        for line in lines
    }


def non_field_codes(response):
    return [e.code for e in response.context["form"].non_field_errors().as_data()]


def scan_file(content=b"%PDF-1.7 scan", name="介绍信.pdf"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def secretary_of_c(branch_c):
    user = factories.make_user("sec_c", is_staff=True)
    factories.make_role(user, branch_c, "secretary")
    return user


@pytest.fixture
def letter(member, branch_b, secretary_of_a):
    return issued(secretary_of_a, member, branch_b)


@pytest.fixture
def accepted(letter, secretary_of_b):
    return services.transfer_accept(actor=secretary_of_b, transfer=letter)


# Queues and counts


@pytest.fixture
def desk(member, member_of_b, branch_a, branch_b, secretary_of_a, secretary_of_b):
    """One letter in each state a queue cares about, between A and B."""
    drafted = draft(secretary_of_a, factories.make_member(branch_a), branch_b)
    waiting = issued(secretary_of_a, member, branch_b)
    arriving = services.transfer_accept(
        actor=secretary_of_b,
        transfer=issued(secretary_of_a, factories.make_member(branch_a), branch_b),
    )
    coming_back = issued(secretary_of_b, member_of_b, branch_a)
    arrived = services.transfer_report(
        actor=secretary_of_a,
        transfer=services.transfer_accept(actor=secretary_of_a, transfer=coming_back),
    )
    return {
        "drafted": drafted.number,
        "waiting": waiting.number,
        "arriving": arriving.number,
        "arrived": arrived.number,
    }


@pytest.mark.parametrize(
    ("queue", "user", "expected"),
    [
        ("drafts", "secretary_of_a", ["drafted"]),
        ("issued", "secretary_of_a", ["waiting"]),
        ("outgoing", "secretary_of_a", ["arriving", "drafted", "waiting"]),
        ("to_accept", "secretary_of_b", ["waiting"]),
        ("to_report", "secretary_of_b", ["arriving"]),
        ("receipts_owed", "secretary_of_a", ["arrived"]),
        ("to_accept", "secretary_of_a", []),
        ("drafts", "secretary_of_b", []),
        ("to_accept", "provincial_viewer_other", []),
        ("to_accept", "committee_staff", ["waiting"]),
    ],
)
def test_each_queue_lists_exactly_its_letters(
    request, client, desk, queue, user, expected
):
    actor = request.getfixturevalue(user)

    numbers = queue_numbers(client, actor, queue)

    assert numbers == sorted(desk[name] for name in expected)


def test_an_unknown_queue_lists_nothing(client, desk, secretary_of_a):
    assert queue_numbers(client, secretary_of_a, "everything") == []


def test_the_index_counts_the_queues_of_each_side(
    client, desk, secretary_of_a, secretary_of_b
):
    client.force_login(secretary_of_b)

    counts = index_counts(client.get(INDEX_URL))

    assert {k: counts[k] for k in ("to_accept", "to_report", "drafts")} == {
        "to_accept": 1,
        "to_report": 1,
        "drafts": 0,
    }
    client.force_login(secretary_of_a)
    counts = index_counts(client.get(INDEX_URL))
    assert {k: counts[k] for k in ("drafts", "issued", "receipts_owed")} == {
        "drafts": 1,
        "issued": 1,
        "receipts_owed": 1,
    }


def test_the_index_links_each_count_to_its_queue(client, desk, secretary_of_b):
    client.force_login(secretary_of_b)

    html = client.get(INDEX_URL).content.decode()

    assert f'href="{LIST_URL}?queue=to_accept"' in html
    assert 'data-testid="queue-to_accept"><strong>1</strong>' in html


def test_the_index_costs_the_same_queries_for_few_and_many_letters(
    client, branch_a, branch_b, secretary_of_a, django_assert_num_queries
):
    client.force_login(secretary_of_a)
    issued(secretary_of_a, factories.make_member(branch_a), branch_b)
    # Session, user, the scope's roles, one statement for every count, and
    # Django's own three (permissions twice, recent actions).
    with django_assert_num_queries(7):
        client.get(INDEX_URL)

    for _n in range(5):
        issued(secretary_of_a, factories.make_member(branch_a), branch_b)
    with django_assert_num_queries(7):
        response = client.get(INDEX_URL)

    assert index_counts(response)["issued"] == 6


def test_the_transfer_list_costs_the_same_queries_for_few_and_many_letters(
    client, branch_a, branch_b, secretary_of_a, django_assert_num_queries
):
    client.force_login(secretary_of_a)
    issued(secretary_of_a, factories.make_member(branch_a), branch_b)
    with django_assert_num_queries(7):
        client.get(LIST_URL, {"queue": "issued"})

    for _n in range(10):
        issued(secretary_of_a, factories.make_member(branch_a), branch_b)
    with django_assert_num_queries(7):
        response = client.get(LIST_URL, {"queue": "issued"})

    assert response.context["cl"].result_count == 11


@pytest.mark.parametrize("user", ["secretary_of_c", "provincial_viewer_other"])
def test_a_letter_out_of_scope_is_404(request, client, letter, user):
    client.force_login(request.getfixturevalue(user))

    response = client.get(change_url(letter))

    assert response.status_code == 404


def test_the_change_page_offers_only_the_steps_of_the_actors_side(
    client, letter, secretary_of_a, secretary_of_b, provincial_viewer
):
    def offered(user):
        client.force_login(user)
        response = client.get(change_url(letter))
        return [step.name for step, _url in response.context["steps"]]

    assert offered(secretary_of_a) == ["withdraw", "reissue"]
    assert offered(secretary_of_b) == ["accept", "return"]
    assert offered(provincial_viewer) == []


def test_opening_a_letter_is_on_the_record(client, letter, member, secretary_of_b):
    client.force_login(secretary_of_b)

    client.get(change_url(letter))

    event = AuditEvent.objects.get(action="transfer.view")
    assert (event.actor, event.member, event.details) == (
        secretary_of_b,
        member,
        {"transfer_id": letter.pk},
    )


def test_the_change_page_cannot_be_posted(client, letter, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(change_url(letter), {"state": State.WITHDRAWN})

    assert response.status_code == 403
    assert state_of(letter) == State.ISSUED


# Creating a letter


def test_the_create_form_offers_the_configured_defaults(
    client, member, secretary_of_a, settings
):
    settings.LIUDONG_TRANSFER_VALIDITY_DAYS = 45
    client.force_login(secretary_of_a)

    response = client.get(create_url(member))

    form = response.context["form"]
    assert response.status_code == 200
    assert form["validity_days"].value() == 45
    assert form["dues_paid_through"].value() == services.dues_required_through(today())
    assert form["issue_now"].value() is True


def test_a_secretary_issues_a_letter_for_a_member_in_one_step(
    client, member, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)
    month = services.dues_required_through(today())

    response = client.post(
        create_url(member),
        {
            "to_organization": branch_b.pk,
            "dues_paid_through": f"{month:%Y-%m}",
            "validity_days": 20,
            "issue_now": "on",
        },
    )

    transfer = Transfer.objects.get(member=member)
    assert response.status_code == 302
    assert response["Location"] == change_url(transfer)
    assert (transfer.state, transfer.to_organization, transfer.validity_days) == (
        State.ISSUED,
        branch_b,
        20,
    )
    assert transfer.valid_until == today() + 20 * DAY
    assert [e.to_state for e in transfer.events.all()] == [State.DRAFT, State.ISSUED]


def test_a_letter_may_go_to_an_organisation_outside_the_system(
    client, member, secretary_of_a
):
    client.force_login(secretary_of_a)
    month = services.dues_required_through(today())

    client.post(
        create_url(member),
        {
            "to_external": "广东省深圳市某街道党工委",
            "dues_paid_through": f"{month:%Y-%m}",
            "validity_days": 30,
        },
    )

    transfer = Transfer.objects.get(member=member)
    assert (transfer.state, transfer.to_external) == (
        State.DRAFT,
        "广东省深圳市某街道党工委",
    )


def test_dues_not_paid_far_enough_show_beside_the_field_and_create_nothing(
    client, member, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)
    too_early = services.dues_required_through(today()) - 40 * DAY

    response = client.post(
        create_url(member),
        {
            "to_organization": branch_b.pk,
            "dues_paid_through": f"{too_early:%Y-%m}",
            "validity_days": 30,
            "issue_now": "on",
        },
    )

    assert response.status_code == 200
    assert [
        e.code for e in response.context["form"].errors.as_data()["dues_paid_through"]
    ] == ["dues_not_paid"]
    assert Transfer.objects.count() == 0


def test_a_second_open_letter_is_refused_with_the_services_message(
    client, letter, member, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)
    month = services.dues_required_through(today())

    response = client.post(
        create_url(member),
        {
            "to_organization": branch_b.pk,
            "dues_paid_through": f"{month:%Y-%m}",
            "validity_days": 30,
        },
    )

    assert response.status_code == 200
    assert non_field_codes(response) == ["transfer_open"]
    assert Transfer.objects.count() == 1


def test_naming_two_destinations_is_refused_by_the_form(
    client, member, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)
    month = services.dues_required_through(today())

    response = client.post(
        create_url(member),
        {
            "to_organization": branch_b.pk,
            "to_external": "别处",
            "dues_paid_through": f"{month:%Y-%m}",
            "validity_days": 30,
        },
    )

    assert response.status_code == 200
    assert Transfer.objects.count() == 0


def test_a_validity_beyond_the_maximum_is_refused(
    client, member, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)
    month = services.dues_required_through(today())

    response = client.post(
        create_url(member),
        {
            "to_organization": branch_b.pk,
            "dues_paid_through": f"{month:%Y-%m}",
            "validity_days": 91,
        },
    )

    assert "validity_days" in response.context["form"].errors
    assert Transfer.objects.count() == 0


def test_a_secretary_cannot_start_a_letter_for_another_branchs_member(
    client, member, secretary_of_b
):
    client.force_login(secretary_of_b)

    assert client.get(create_url(member)).status_code == 404


def test_a_provincial_viewer_cannot_start_a_letter(client, member, provincial_viewer):
    client.force_login(provincial_viewer)

    assert client.get(create_url(member)).status_code == 403


def test_the_add_page_without_a_member_explains_where_to_start(client, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(reverse("admin:organizations_transfer_add"))

    assert response.status_code == 200
    assert reverse("admin:organizations_transfer_incoming") in response.content.decode()


# Steps


def test_a_draft_is_issued_by_posting_its_step(
    client, member, branch_b, secretary_of_a
):
    letter = draft(secretary_of_a, member, branch_b)
    client.force_login(secretary_of_a)

    response = client.post(step_url(letter, "issue"))

    assert response.status_code == 302
    assert state_of(letter) == State.ISSUED


def test_opening_a_step_page_changes_nothing(client, letter, secretary_of_b):
    client.force_login(secretary_of_b)

    response = client.get(step_url(letter, "accept"))

    assert response.status_code == 200
    assert state_of(letter) == State.ISSUED
    assert response.context["step"].name == "accept"


def test_the_receiving_secretary_accepts(client, letter, secretary_of_b):
    client.force_login(secretary_of_b)

    response = client.post(step_url(letter, "accept"))

    assert response.status_code == 302
    assert response["Location"] == change_url(letter)
    assert state_of(letter) == State.ACCEPTED
    assert letter.events.last().actor == secretary_of_b


def test_the_sending_secretary_may_not_accept_their_own_letter(
    client, letter, secretary_of_a
):
    client.force_login(secretary_of_a)

    assert client.get(step_url(letter, "accept")).status_code == 403
    assert client.post(step_url(letter, "accept")).status_code == 403
    assert state_of(letter) == State.ISSUED


def test_a_provincial_viewer_may_open_a_letter_but_not_act(
    client, letter, provincial_viewer
):
    client.force_login(provincial_viewer)

    assert client.get(change_url(letter)).status_code == 200
    assert client.get(step_url(letter, "accept")).status_code == 403
    assert client.post(step_url(letter, "accept")).status_code == 403
    assert state_of(letter) == State.ISSUED


@pytest.mark.parametrize("user", ["secretary_of_c", "provincial_viewer_other"])
def test_acting_on_a_letter_out_of_scope_is_404(request, client, letter, user):
    client.force_login(request.getfixturevalue(user))

    response = client.post(step_url(letter, "accept"))

    assert response.status_code == 404
    assert state_of(letter) == State.ISSUED


def test_the_committee_above_both_sides_may_accept(client, letter, committee_staff):
    client.force_login(committee_staff)

    client.post(step_url(letter, "accept"))

    assert state_of(letter) == State.ACCEPTED


def test_an_unknown_step_is_404(client, letter, secretary_of_b):
    client.force_login(secretary_of_b)

    assert client.post(step_url(letter, "teleport")).status_code == 404


def test_returning_needs_a_reason_and_changes_nothing_without_one(
    client, letter, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.post(step_url(letter, "return"), {"reason": ""})

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert state_of(letter) == State.ISSUED


def test_returning_with_a_reason_records_it(client, letter, secretary_of_b):
    client.force_login(secretary_of_b)

    client.post(step_url(letter, "return"), {"reason": "身份证号有误"})

    assert state_of(letter) == State.RETURNED
    assert letter.events.last().reason == "身份证号有误"


def test_a_step_overtaken_by_another_secretary_explains_and_changes_nothing(
    client, letter, secretary_of_b, committee_staff
):
    client.force_login(secretary_of_b)
    client.get(step_url(letter, "accept"))
    services.transfer_return(actor=committee_staff, transfer=letter, reason="退回")

    response = client.post(step_url(letter, "accept"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This transfer is now “Returned” and cannot become “Accepted”."
    ]
    assert state_of(letter) == State.RETURNED


def test_a_step_page_for_a_letter_moved_on_says_so(client, accepted, secretary_of_b):
    client.force_login(secretary_of_b)

    response = client.get(
        step_url(accepted, "accept"), follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.redirect_chain[-1][0] == change_url(accepted)
    assert [str(m) for m in response.context["messages"]] == [
        "This transfer is now “Accepted”."
    ]


def test_recording_the_arrival_moves_the_member_into_the_chosen_branch(
    client, accepted, member, branch_b, secretary_of_b
):
    sub_branch = factories.make_organization(branch_b, code="G-B", kind="branch")
    client.force_login(secretary_of_b)

    response = client.post(step_url(accepted, "report"), {"placed_in": sub_branch.pk})

    assert response.status_code == 302
    assert state_of(accepted) == State.REPORTED
    roster = client.get(reverse("admin:members_member_changelist"))
    assert [m.pk for m in roster.context["cl"].result_list] == [member.pk]
    assert member.membership_periods.get(period__contains=today()).organization == (
        sub_branch
    )


def test_the_arrival_may_only_be_placed_below_the_receiving_organisation(
    client, accepted, branch_a, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.post(step_url(accepted, "report"), {"placed_in": branch_a.pk})

    assert "placed_in" in response.context["form"].errors
    assert state_of(accepted) == State.ACCEPTED


def test_the_receipt_is_recorded_after_the_arrival(client, accepted, secretary_of_b):
    services.transfer_report(actor=secretary_of_b, transfer=accepted)
    client.force_login(secretary_of_b)

    client.post(step_url(accepted, "receipt"))

    assert state_of(accepted) == State.RECEIPT_RETURNED


def test_the_sender_withdraws_a_letter_not_yet_accepted(client, letter, secretary_of_a):
    client.force_login(secretary_of_a)

    client.post(step_url(letter, "withdraw"), {"reason": "成员改变主意"})

    assert state_of(letter) == State.WITHDRAWN


def test_a_withdrawal_after_acceptance_is_refused(client, accepted, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(step_url(accepted, "withdraw"), {"reason": "晚了"})

    assert response.status_code == 200
    assert non_field_codes(response) == ["transfer_state"]
    assert state_of(accepted) == State.ACCEPTED


def test_a_returned_letter_is_reissued_and_linked(
    client, letter, branch_b, secretary_of_a, secretary_of_b
):
    services.transfer_return(actor=secretary_of_b, transfer=letter, reason="盖章不清")
    client.force_login(secretary_of_a)
    month = services.dues_required_through(today())

    response = client.post(
        step_url(letter, "reissue"),
        {
            "to_organization": branch_b.pk,
            "dues_paid_through": f"{month:%Y-%m}",
            "validity_days": 30,
            "reason": "重新盖章",
        },
    )

    successor = Transfer.objects.get(reissue_of=letter)
    assert response["Location"] == change_url(successor)
    assert (state_of(letter), successor.state) == (State.REISSUED, State.ISSUED)


# Letters from outside


def incoming_data(branch, **changes):
    data = {
        "to_organization": branch.pk,
        "from_external": "河北省某县委组织部",
        "external_number": "冀组转〔2026〕12号",
        "scan": scan_file(),
        "name": "赵六",
        "gender": "female",
        "id_number": factories.make_id_number(
            birth_date=datetime.date(1990, 5, 4), gender="female"
        ),
        "joined_on": "2015-07-01",
        "issued_on": (today() - 2 * DAY).isoformat(),
        "validity_days": 30,
    }
    data.update(changes)
    return data


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_the_receiving_secretary_registers_a_paper_letter_with_its_scan(
    client, media, branch_b, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.post(
        reverse("admin:organizations_transfer_incoming"), incoming_data(branch_b)
    )

    transfer = Transfer.objects.get()
    assert response["Location"] == change_url(transfer)
    assert (transfer.state, transfer.from_external, transfer.name) == (
        State.ISSUED,
        "河北省某县委组织部",
        "赵六",
    )
    assert (media / transfer.letter_scan.name).read_bytes() == b"%PDF-1.7 scan"


def test_a_scan_of_the_wrong_type_is_refused_and_nothing_is_registered(
    client, media, branch_b, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.post(
        reverse("admin:organizations_transfer_incoming"),
        incoming_data(branch_b, scan=scan_file(b"MZ\x90\x00", "letter.pdf")),
    )

    assert [e.code for e in response.context["form"].errors.as_data()["scan"]] == [
        "scan_type"
    ]
    assert Transfer.objects.count() == 0
    assert list(media.rglob("*.*")) == []


def test_a_secretary_cannot_register_a_letter_for_another_branch(
    client, media, branch_b, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:organizations_transfer_incoming"), incoming_data(branch_b)
    )

    assert "to_organization" in response.context["form"].errors
    assert Transfer.objects.count() == 0


@pytest.fixture
def registered(media, branch_b, secretary_of_b):
    return services.transfer_register_incoming(
        actor=secretary_of_b,
        to_organization=branch_b,
        from_external="河北省某县委组织部",
        scan=scan_file(),
        name="赵六",
        gender="female",
        id_number=factories.make_id_number(
            birth_date=datetime.date(1990, 5, 4), gender="female"
        ),
        joined_on=datetime.date(2015, 7, 1),
        issued_on=today() - 2 * DAY,
    )


def test_the_scan_is_served_as_an_attachment_that_is_never_sniffed(
    client, registered, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.get(scan_url(registered))

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="letter-{registered.number}-scan.pdf"'
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"%PDF-1.7 scan"
    assert AuditEvent.objects.filter(action="transfer.scan").count() == 1


def test_a_viewer_without_full_ids_may_not_download_the_scan(
    client, registered, provincial_viewer
):
    client.force_login(provincial_viewer)

    response = client.get(scan_url(registered))

    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="transfer.scan").count() == 0


@pytest.mark.parametrize("user", ["secretary_of_a", "provincial_viewer_other"])
def test_the_scan_of_a_letter_out_of_scope_is_404(request, client, registered, user):
    client.force_login(request.getfixturevalue(user))

    assert client.get(scan_url(registered)).status_code == 404


def test_the_scan_has_no_public_address(client, registered, secretary_of_b):
    client.force_login(secretary_of_b)

    response = client.get(f"/media/{registered.letter_scan.name}")

    assert response.status_code == 404


# The printable letter


def test_either_side_downloads_the_letter_and_the_download_is_audited(
    client, letter, secretary_of_a, secretary_of_b
):
    for user in (secretary_of_a, secretary_of_b):
        client.force_login(user)
        response = client.get(letter_url(letter))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == (
            f'attachment; filename="letter-{letter.number}.pdf"'
        )
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response.content.startswith(b"%PDF-")

    events = AuditEvent.objects.filter(action="transfer.letter").order_by("pk")
    assert [(e.actor, e.details["masked"]) for e in events] == [
        (secretary_of_a, False),
        (secretary_of_b, False),
    ]


@pytest.mark.parametrize("user", ["secretary_of_c", "provincial_viewer_other"])
def test_the_letter_out_of_scope_is_404(request, client, letter, user):
    client.force_login(request.getfixturevalue(user))

    assert client.get(letter_url(letter)).status_code == 404
    assert not AuditEvent.objects.filter(action="transfer.letter").exists()
