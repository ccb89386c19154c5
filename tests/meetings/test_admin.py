"""The secretaries' meeting admin: pages, every action, scope and refusals."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import AuditEvent
from organizations.meetings import services
from organizations.models import (
    Attendance,
    AttendanceChange,
    Meeting,
    MeetingSeries,
    Resolution,
)
from organizations.scope import scope_for
from tests import factories

BEIJING = ZoneInfo("Asia/Shanghai")
# Meetings are planned at most two years ahead: the form's dates stay near.
NEXT_YEAR = timezone.localdate().year + 1
LIST_URL = reverse("admin:organizations_meeting_changelist")
ADD_URL = reverse("admin:organizations_meeting_add")
COMPLIANCE_URL = reverse("admin:organizations_meeting_compliance")
SERIES_LIST_URL = reverse("admin:organizations_meetingseries_changelist")
SERIES_ADD_URL = reverse("admin:organizations_meetingseries_add")


def change_url(meeting):
    return reverse("admin:organizations_meeting_change", args=[meeting.pk])


def step_url(meeting, step):
    return reverse("admin:organizations_meeting_step", args=[meeting.pk, step])


def row_url(attendance, step):
    return reverse(
        "admin:organizations_meeting_attendance",
        args=[attendance.meeting_id, attendance.pk, step],
    )


def pdf_url(meeting):
    return reverse("admin:organizations_meeting_minutes", args=[meeting.pk])


def series_url(series):
    return reverse("admin:organizations_meetingseries_change", args=[series.pk])


def plan(secretary, organization, *, kind="general_meeting", starts_at, hours=2):
    return services.plan_meeting(
        actor=secretary,
        scope=scope_for(secretary),
        organization=organization,
        details=services.MeetingDetails(
            kind=kind,
            title=f"{kind} {starts_at:%Y-%m-%d}",
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=hours),
            place="会议室",
        ),
    )


def attendance_of(meeting, member) -> Attendance:
    return Attendance.objects.get(meeting=meeting, member=member)


def form_errors(response) -> dict:
    return response.context["form"].errors


def meeting_form(**overrides) -> dict:
    return {
        "kind": "theme_day",
        "title": "五月主题党日",
        "starts_at": f"{NEXT_YEAR}-05-01T19:00",
        "ends_at": f"{NEXT_YEAR}-05-01T21:00",
        "mode": "hybrid",
        "place": "村委会议室",
        "online_link": "https://meet.example.cn/abc",
        "agenda": "学习",
        **overrides,
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def voters(branch_a):
    """Four more full members of branch A, with the member five voters."""
    return [factories.make_member(branch_a, name=f"党员{n}") for n in range(4)]


@pytest.fixture
def started(branch_a, member, voters, secretary_of_a):
    """A general meeting of branch A that began half an hour ago."""
    return plan(
        secretary_of_a,
        branch_a,
        starts_at=timezone.now() - datetime.timedelta(minutes=30),
    )


@pytest.fixture
def upcoming(branch_a, member, secretary_of_a):
    return plan(
        secretary_of_a,
        branch_a,
        kind="theme_day",
        starts_at=timezone.now() + datetime.timedelta(days=2),
    )


@pytest.fixture
def held(started, secretary_of_a):
    return services.close_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=started,
        minutes="<p>会议纪要</p>",
    )


# Pages


@pytest.mark.parametrize(
    "url",
    [
        lambda m: LIST_URL,
        lambda m: ADD_URL,
        lambda m: change_url(m),
        lambda m: step_url(m, "close"),
        lambda m: step_url(m, "cancel"),
        lambda m: step_url(m, "resolution"),
        lambda m: row_url(m.attendances.first(), "present"),
        lambda m: row_url(m.attendances.first(), "absent"),
        lambda m: row_url(m.attendances.first(), "excuse"),
        lambda m: COMPLIANCE_URL,
        lambda m: SERIES_LIST_URL,
        lambda m: SERIES_ADD_URL,
    ],
)
def test_each_page_renders_for_the_secretary(client, started, secretary_of_a, url):
    client.force_login(secretary_of_a)

    response = client.get(url(started))

    assert response.status_code == 200


def test_the_list_shows_the_meetings_of_the_secretarys_scope_only(
    client, started, branch_b, member_of_b, secretary_of_a, secretary_of_b
):
    other = plan(secretary_of_b, branch_b, starts_at=timezone.now())
    client.force_login(secretary_of_a)

    response = client.get(LIST_URL)

    assert list(response.context["cl"].result_list) == [started]
    assert other not in response.context["cl"].result_list


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "theme_day"}, ["upcoming"]),
        ({"status": "planned"}, ["upcoming", "started"]),
        ({"status": "held"}, []),
        ({"organization__id__exact": "branch_a"}, ["upcoming", "started"]),
    ],
)
def test_the_list_filters_by_kind_status_and_organization(
    client, started, upcoming, branch_a, secretary_of_a, params, expected
):
    meetings = {"started": started, "upcoming": upcoming}
    params = {k: branch_a.pk if v == "branch_a" else v for k, v in params.items()}
    client.force_login(secretary_of_a)

    response = client.get(LIST_URL, params)

    assert list(response.context["cl"].result_list) == [meetings[n] for n in expected]


def test_the_list_has_a_date_hierarchy_on_the_local_date(
    client, started, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(LIST_URL, {"held_on__year": started.held_on.year})

    assert list(response.context["cl"].result_list) == [started]
    assert f'href="{COMPLIANCE_URL}"' in response.content.decode()


def test_the_list_costs_the_same_queries_for_few_and_many_meetings(
    client, branch_a, member, secretary_of_a, django_assert_num_queries
):
    start = timezone.now()
    plan(secretary_of_a, branch_a, starts_at=start)
    client.force_login(secretary_of_a)
    # Session, user, the scope's roles, the count, the rows with their
    # attendance figures, the date hierarchy, the organisation filter's
    # choices and Django's own.
    with django_assert_num_queries(10):
        client.get(LIST_URL)

    for days in range(1, 6):
        plan(secretary_of_a, branch_a, starts_at=start + datetime.timedelta(days))
    with django_assert_num_queries(10):
        response = client.get(LIST_URL)

    assert response.context["cl"].result_count == 6


def test_the_list_shows_present_of_invited(client, started, member, secretary_of_a):
    services.record_presence(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        attendance=attendance_of(started, member),
    )
    client.force_login(secretary_of_a)

    response = client.get(LIST_URL)

    assert "1 / 5" in response.content.decode()


# Planning and changing


def test_the_secretary_plans_a_meeting_in_local_time(
    client, branch_a, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(ADD_URL, meeting_form(organization=branch_a.pk))

    meeting = Meeting.objects.get()
    assert response.status_code == 302
    assert response["Location"] == change_url(meeting)
    assert meeting.starts_at == datetime.datetime(
        NEXT_YEAR, 5, 1, 19, 0, tzinfo=BEIJING
    )
    assert meeting.held_on == datetime.date(NEXT_YEAR, 5, 1)
    assert meeting.created_by == secretary_of_a
    assert list(meeting.attendances.values_list("member", flat=True)) == [member.pk]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": f"{NEXT_YEAR}-05-01T18:00"}, "ends_at"),
        ({"mode": "online", "online_link": ""}, "online_link"),
        ({"kind": "party_group"}, "kind"),
        ({"title": ""}, "title"),
        ({"starts_at": "tomorrow"}, "starts_at"),
    ],
)
def test_a_bad_meeting_is_refused_with_a_form_error(
    client, branch_a, secretary_of_a, overrides, field
):
    client.force_login(secretary_of_a)

    response = client.post(ADD_URL, meeting_form(organization=branch_a.pk, **overrides))

    assert response.status_code == 200
    assert field in form_errors(response)
    assert not Meeting.objects.exists()


def test_a_secretary_cannot_plan_for_another_branch(client, branch_b, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(ADD_URL, meeting_form(organization=branch_b.pk))

    assert "organization" in form_errors(response)
    assert not Meeting.objects.exists()


def test_the_secretary_changes_a_planned_meeting(client, upcoming, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(change_url(upcoming), meeting_form(title="改期的主题党日"))

    upcoming.refresh_from_db()
    assert response.status_code == 302
    assert upcoming.title == "改期的主题党日"
    assert upcoming.starts_at == datetime.datetime(NEXT_YEAR, 5, 1, 19, tzinfo=BEIJING)


def test_the_change_form_shows_the_local_times(client, upcoming, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(change_url(upcoming))

    local = timezone.localtime(upcoming.starts_at, BEIJING)
    assert f'value="{local:%Y-%m-%dT%H:%M}"' in response.content.decode()


def test_a_held_meeting_is_a_read_only_record(client, held, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(change_url(held))

    assert response.status_code == 200
    assert "form" not in response.context
    assert "会议纪要" in response.content.decode()
    assert [s.name for s, _url in response.context["steps"]] == ["attach", "resolution"]


def test_a_held_meeting_cannot_be_changed(client, held, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(change_url(held), meeting_form())

    held.refresh_from_db()
    assert "Only a planned meeting can be changed." in str(form_errors(response))
    assert held.title != "五月主题党日"


# Attendance


def test_the_secretary_records_a_member_present(
    client, started, member, secretary_of_a
):
    attendance = attendance_of(started, member)
    client.force_login(secretary_of_a)

    response = client.post(row_url(attendance, "present"))

    attendance.refresh_from_db()
    assert response["Location"] == change_url(started)
    assert attendance.status == "present"
    assert attendance.intervals.get().method == "secretary"
    assert attendance.changes.get().actor == secretary_of_a


def test_the_secretary_marks_a_member_absent(client, started, member, secretary_of_a):
    attendance = attendance_of(started, member)
    client.force_login(secretary_of_a)

    client.post(row_url(attendance, "absent"))

    attendance.refresh_from_db()
    assert attendance.status == "absent"


def test_the_secretary_excuses_a_member_with_a_reason(
    client, started, member, secretary_of_a
):
    attendance = attendance_of(started, member)
    client.force_login(secretary_of_a)

    client.post(row_url(attendance, "excuse"), {"reason": "外出务工"})

    attendance.refresh_from_db()
    assert (attendance.status, attendance.reason) == ("excused", "外出务工")
    change = attendance.changes.get()
    assert (change.from_status, change.to_status, change.reason) == (
        "invited",
        "excused",
        "外出务工",
    )


def test_excusing_without_a_reason_is_a_form_error(
    client, started, member, secretary_of_a
):
    attendance = attendance_of(started, member)
    client.force_login(secretary_of_a)

    response = client.post(row_url(attendance, "excuse"), {"reason": "  "})

    attendance.refresh_from_db()
    assert "reason" in form_errors(response)
    assert attendance.status == "invited"
    assert not AttendanceChange.objects.exists()


def test_a_member_who_checked_in_cannot_be_marked_absent(
    client, started, member, member_user, secretary_of_a
):
    services.check_in(user=member_user, meeting=started)
    attendance = attendance_of(started, member)
    client.force_login(secretary_of_a)

    response = client.post(row_url(attendance, "absent"))

    attendance.refresh_from_db()
    assert "cannot be recorded absent" in str(form_errors(response))
    assert attendance.status == "present"


def test_the_page_shows_check_in_times_and_the_change_history(
    client, started, member, member_user, voters, secretary_of_a
):
    at = started.starts_at + datetime.timedelta(minutes=7)
    services.check_in(user=member_user, meeting=started, at=at)
    services.record_absence(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        attendance=attendance_of(started, voters[0]),
        status="excused",
        reason="住院",
    )
    client.force_login(secretary_of_a)

    response = client.get(change_url(started))

    html = response.content.decode()
    assert f"{timezone.localtime(at, BEIJING):%H:%M}–" in html
    history = response.context["changes"]
    assert [(c["member"], c["to"], c["reason"]) for c in history] == [
        ("张三", "Present", ""),
        ("党员0", "Excused", "住院"),
    ]


def test_the_meeting_page_costs_the_same_queries_for_few_and_many_members(
    client, branch_a, started, voters, secretary_of_a, django_assert_num_queries
):
    present(started, secretary_of_a, voters[:2])
    client.force_login(secretary_of_a)
    with django_assert_num_queries(12):
        client.get(change_url(started))

    more = [factories.make_member(branch_a) for _n in range(5)]
    services.invite(started, more)
    present(started, secretary_of_a, more)
    with django_assert_num_queries(12):
        response = client.get(change_url(started))

    assert len(response.context["rows"]) == 10


def test_the_qr_code_shows_while_the_meeting_is_planned(
    client, upcoming, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(change_url(upcoming))

    assert "<svg" in response.context["checkin_qr"]
    assert "/meetings/checkin/" in response.context["checkin_url"]
    assert response.context["checkin_url"].startswith("http://testserver/")


def test_no_qr_code_once_the_meeting_is_held(client, held, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(change_url(held))

    assert "checkin_qr" not in response.context
    assert 'data-testid="checkin-qr"' not in response.content.decode()


def test_renewing_the_qr_code_voids_the_old_one(client, upcoming, secretary_of_a):
    client.force_login(secretary_of_a)
    old = client.get(change_url(upcoming)).context["checkin_url"]

    response = client.post(step_url(upcoming, "renew-code"))

    assert response["Location"] == change_url(upcoming)
    assert client.get(change_url(upcoming)).context["checkin_url"] != old


# Closing, cancelling, voting


def test_the_secretary_closes_a_meeting_with_minutes(
    client, started, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        step_url(started, "close"),
        {"minutes": "<p><strong>决议</strong></p><script>alert(1)</script>"},
    )

    started.refresh_from_db()
    assert response["Location"] == change_url(started)
    assert started.status == "held"
    assert started.minutes == "<p><strong>决议</strong></p>"
    assert attendance_of(started, member).status == "absent"


def test_a_meeting_not_started_cannot_be_closed(client, upcoming, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(step_url(upcoming, "close"), {"minutes": "x"})

    upcoming.refresh_from_db()
    assert "once it has started" in str(form_errors(response))
    assert upcoming.status == "planned"


def test_cancelling_needs_a_reason(client, upcoming, secretary_of_a):
    client.force_login(secretary_of_a)

    refused = client.post(step_url(upcoming, "cancel"), {"reason": ""})
    upcoming.refresh_from_db()
    assert "reason" in form_errors(refused)
    assert upcoming.status == "planned"

    client.post(step_url(upcoming, "cancel"), {"reason": "台风"})
    upcoming.refresh_from_db()
    assert upcoming.status == "cancelled"


def vote(**overrides) -> dict:
    return {
        "subject": "other",
        "member": "",
        "text": "同意",
        "ayes": 3,
        "nays": 0,
        "abstentions": 0,
        **overrides,
    }


def present(meeting, secretary, members):
    for member in members:
        services.record_presence(
            actor=secretary,
            scope=scope_for(secretary),
            attendance=attendance_of(meeting, member),
        )


def test_a_vote_without_quorum_is_refused(client, started, voters, secretary_of_a):
    present(started, secretary_of_a, voters[:2])
    client.force_login(secretary_of_a)

    response = client.post(step_url(started, "resolution"), vote(ayes=2))

    assert "No quorum: 2 of 5 members entitled to vote are present" in str(
        form_errors(response)
    )
    assert not Resolution.objects.exists()


def test_a_vote_with_quorum_is_recorded_with_its_outcome(
    client, started, voters, secretary_of_a
):
    present(started, secretary_of_a, voters[:3])
    client.force_login(secretary_of_a)

    response = client.post(
        step_url(started, "resolution"),
        vote(subject="discipline", member=voters[0].pk, declared_passed="on"),
    )

    resolution = Resolution.objects.get()
    assert response["Location"] == change_url(started)
    assert (resolution.entitled, resolution.present, resolution.passed) == (5, 3, True)
    assert resolution.member == voters[0]
    page = client.get(change_url(started))
    assert page.context["resolutions"] == [resolution]


def test_declaring_passed_what_the_rules_deny_is_refused(
    client, started, voters, secretary_of_a
):
    present(started, secretary_of_a, voters[:3])
    client.force_login(secretary_of_a)

    response = client.post(
        step_url(started, "resolution"),
        vote(ayes=2, nays=1, declared_passed="on"),
    )

    assert "did not pass" in str(form_errors(response))
    assert not Resolution.objects.exists()


def test_negative_votes_are_a_form_error(client, started, voters, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(step_url(started, "resolution"), vote(nays=-1))

    assert "nays" in form_errors(response)
    assert not Resolution.objects.exists()


def test_no_resolution_at_a_theme_party_day(client, secretary_of_a, branch_a, member):
    theme_day = plan(
        secretary_of_a,
        branch_a,
        kind="theme_day",
        starts_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    client.force_login(secretary_of_a)

    page = client.get(change_url(theme_day))
    response = client.post(step_url(theme_day, "resolution"), vote())

    assert "resolution" not in [s.name for s, _url in page.context["steps"]]
    assert "Resolutions are voted at" in str(form_errors(response))


# Minutes PDF


def test_the_minutes_pdf_downloads_and_is_on_the_record(client, held, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(pdf_url(held))

    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    event = AuditEvent.objects.get(action="meeting.minutes_download")
    assert (event.actor, event.details) == (secretary_of_a, {"meeting": held.pk})


# Scope: the other branch's secretary gets 404, the provincial viewer 403


def _actions(meeting):
    attendance = meeting.attendances.first()
    return [
        ("get", change_url(meeting), {}),
        ("get", pdf_url(meeting), {}),
        ("post", change_url(meeting), meeting_form()),
        ("post", step_url(meeting, "close"), {"minutes": "x"}),
        ("post", step_url(meeting, "cancel"), {"reason": "x"}),
        ("post", step_url(meeting, "resolution"), vote()),
        ("post", step_url(meeting, "renew-code"), {}),
        ("post", row_url(attendance, "present"), {}),
        ("post", row_url(attendance, "absent"), {}),
        ("post", row_url(attendance, "excuse"), {"reason": "x"}),
    ]


@pytest.mark.parametrize("index", range(10))
def test_the_other_branchs_secretary_gets_404_everywhere(
    client, started, secretary_of_b, index
):
    method, url, data = _actions(started)[index]
    client.force_login(secretary_of_b)

    response = getattr(client, method)(url, data)

    assert response.status_code == 404
    assert not AttendanceChange.objects.exists()


@pytest.mark.parametrize("index", range(2, 10))
def test_the_provincial_viewer_may_not_act(client, started, provincial_viewer, index):
    method, url, data = _actions(started)[index]
    client.force_login(provincial_viewer)

    response = getattr(client, method)(url, data)

    started.refresh_from_db()
    assert response.status_code == 403
    assert started.status == "planned"
    assert not AttendanceChange.objects.exists()
    assert not Resolution.objects.exists()


def test_the_provincial_viewer_reads_the_meeting_without_actions(
    client, started, provincial_viewer
):
    client.force_login(provincial_viewer)

    page = client.get(change_url(started))
    pdf = client.get(pdf_url(started))

    assert page.status_code == 200
    assert "form" not in page.context
    assert page.context["steps"] == []
    assert all(row["actions"] == [] for row in page.context["rows"])
    assert "checkin_qr" not in page.context
    assert pdf.status_code == 200


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", ADD_URL),
        ("post", ADD_URL),
        ("post", LIST_URL),
        ("get", SERIES_ADD_URL),
        ("post", SERIES_LIST_URL),
    ],
)
def test_the_provincial_viewer_cannot_add(
    client, branch_a, provincial_viewer, method, url
):
    client.force_login(provincial_viewer)

    response = getattr(client, method)(url, meeting_form(organization=branch_a.pk))

    assert response.status_code == 403
    assert not Meeting.objects.exists()


# Compliance


@pytest.fixture
def march_2025_theme_day(branch_a, member, secretary_of_a):
    """A theme Party day held in March 2025 where the member was present."""
    meeting = plan(
        secretary_of_a,
        branch_a,
        kind="theme_day",
        starts_at=datetime.datetime(2025, 3, 10, 19, tzinfo=BEIJING),
    )
    present(meeting, secretary_of_a, [member])
    return services.close_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=meeting,
        minutes="",
    )


def test_compliance_shows_each_owed_kind_by_period(
    client, march_2025_theme_day, branch_a, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.get(COMPLIANCE_URL, {"organization": branch_a.pk, "year": 2025})

    kinds = {row["kind"]: row for row in response.context["kinds"]}
    theme_days = {p["label"]: p["state"] for p in kinds["theme_day"]["periods"]}
    assert theme_days["2025-03"] == "held"
    assert theme_days["2025-04"] == "overdue"
    assert len(theme_days) == 12
    assert [p["label"] for p in kinds["general_meeting"]["periods"]] == [
        "2025-Q1",
        "2025-Q2",
        "2025-Q3",
        "2025-Q4",
    ]
    assert response.context["rate"] == 100
    assert "party_group" not in kinds


def test_compliance_starts_at_the_secretarys_branch(client, branch_a, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(COMPLIANCE_URL)

    assert response.context["organization"] == branch_a
    assert response.context["year"] == timezone.localdate().year


def test_a_committee_sees_its_subtree_per_child_with_drill_down(
    client, march_2025_theme_day, city_committee, branch_a, branch_b, committee_staff
):
    client.force_login(committee_staff)

    response = client.get(
        COMPLIANCE_URL, {"organization": city_committee.pk, "year": 2025}
    )

    rows = {row["organization"]: row for row in response.context["children"]}
    assert set(rows) == {branch_a, branch_b}
    assert rows[branch_a]["held"] == 1
    assert rows[branch_b]["held"] == 0
    assert rows[branch_a]["overdue"] == rows[branch_b]["overdue"] - 1
    assert rows[branch_a]["url"] == (
        f"{COMPLIANCE_URL}?organization={branch_a.pk}&year=2025"
    )
    assert response.context["kinds"] == []


def test_a_province_sees_each_committee_aggregated(
    client,
    march_2025_theme_day,
    province_a,
    city_committee,
    branch_b,
    provincial_viewer,
):
    client.force_login(provincial_viewer)

    response = client.get(COMPLIANCE_URL, {"organization": province_a.pk, "year": 2025})

    (row,) = response.context["children"]
    assert (row["organization"], row["owing"], row["held"]) == (city_committee, 2, 1)


def test_a_branch_lists_members_without_organisational_life(
    client, started, member, voters, branch_a, secretary_of_a
):
    present(started, secretary_of_a, [member])
    services.close_meeting(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        meeting=started,
        minutes="",
    )
    client.force_login(secretary_of_a)

    response = client.get(COMPLIANCE_URL, {"organization": branch_a.pk})

    assert response.context["lapsed"] == voters


def test_compliance_of_another_branch_is_404(client, branch_a, secretary_of_b):
    client.force_login(secretary_of_b)

    response = client.get(COMPLIANCE_URL, {"organization": branch_a.pk})

    assert response.status_code == 404


def test_a_bad_year_is_a_form_error(client, branch_a, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.get(COMPLIANCE_URL, {"organization": branch_a.pk, "year": "x"})

    assert "year" in form_errors(response)
    assert "kinds" not in response.context


# Recurring meetings


def series_form(**overrides) -> dict:
    return {
        "kind": "theme_day",
        "title": "每月主题党日",
        "day_of_month": 28,
        "start_time": "19:30",
        "duration_minutes": 90,
        "first_month": f"{timezone.localdate():%Y-%m}",
        "last_month": "",
        "mode": "in_person",
        "place": "党员活动室",
        "online_link": "",
        "agenda": "",
        **overrides,
    }


@pytest.fixture
def series(branch_a, member, secretary_of_a):
    return services.plan_series(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        organization=branch_a,
        details=services.SeriesDetails(
            kind="theme_day",
            title="每月主题党日",
            day_of_month=28,
            start_time=datetime.time(19, 30),
            duration_minutes=90,
            first_month=timezone.localdate().replace(day=1),
            place="党员活动室",
        ),
    )


def test_the_secretary_plans_a_recurring_meeting(
    client, branch_a, member, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(SERIES_ADD_URL, series_form(organization=branch_a.pk))

    series = MeetingSeries.objects.get()
    assert response["Location"] == series_url(series)
    assert series.meetings.count() >= 3
    assert {m.starts_at.astimezone(BEIJING).time() for m in series.meetings.all()} == {
        datetime.time(19, 30)
    }


def test_a_bad_recurring_meeting_is_a_form_error(client, branch_a, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        SERIES_ADD_URL,
        series_form(organization=branch_a.pk, mode="in_person", place=""),
    )

    assert "place" in form_errors(response)
    assert not MeetingSeries.objects.exists()
    assert not Meeting.objects.exists()


def test_changing_a_series_changes_its_planned_meetings_without_duplicates(
    client, series, secretary_of_a
):
    before = series.meetings.count()
    client.force_login(secretary_of_a)

    response = client.post(series_url(series), series_form(title="改名的主题党日"))

    assert response.status_code == 302
    assert series.meetings.count() == before
    assert set(series.meetings.values_list("title", flat=True)) == {"改名的主题党日"}


def test_the_series_page_renders_and_is_read_only_for_the_viewer(
    client, series, provincial_viewer, secretary_of_a
):
    client.force_login(secretary_of_a)
    assert "form" in client.get(series_url(series)).context

    client.force_login(provincial_viewer)
    page = client.get(series_url(series))
    refused = client.post(series_url(series), series_form(title="x"))

    assert page.status_code == 200
    assert "form" not in page.context
    assert refused.status_code == 403
    series.refresh_from_db()
    assert series.title == "每月主题党日"


def test_the_other_branchs_secretary_cannot_see_a_series(
    client, series, secretary_of_b
):
    client.force_login(secretary_of_b)

    assert client.get(series_url(series)).status_code == 404
    assert client.post(series_url(series), series_form()).status_code == 404
    assert client.get(SERIES_LIST_URL).context["cl"].result_count == 0


# --- choosing who is invited


def test_the_secretary_invites_a_member_left_out_and_takes_one_back(
    client, upcoming, member, branch_a, secretary_of_a
):
    uninvite_first = attendance_of(upcoming, member)
    late_joiner = factories.make_member(branch_a)
    # Joined after the meeting was planned: not invited by default.
    assert not Attendance.objects.filter(meeting=upcoming, member=late_joiner).exists()
    client.force_login(secretary_of_a)

    page = client.get(step_url(upcoming, "invite"))
    offered = list(page.context["form"].fields["members"].queryset)
    response = client.post(step_url(upcoming, "invite"), {"members": [late_joiner.pk]})

    assert offered == [late_joiner]
    assert response.status_code == 302
    assert attendance_of(upcoming, late_joiner).status == Attendance.Status.INVITED
    response = client.post(row_url(uninvite_first, "uninvite"))
    assert response.status_code == 302
    assert not Attendance.objects.filter(pk=uninvite_first.pk).exists()
    assert AuditEvent.objects.filter(action="meeting.uninvited", member=member).exists()


def test_a_member_outside_the_organisation_cannot_be_invited(
    client, upcoming, member_of_b, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(step_url(upcoming, "invite"), {"members": [member_of_b.pk]})

    assert response.status_code == 200
    assert "members" in form_errors(response)
    assert not Attendance.objects.filter(member=member_of_b).exists()


def test_an_invitation_acted_on_cannot_be_taken_back(
    client, started, member, member_user, secretary_of_a
):
    services.check_in(user=member_user, meeting=started)
    client.force_login(secretary_of_a)

    response = client.post(row_url(attendance_of(started, member), "uninvite"))

    assert response.status_code == 200
    assert attendance_of(started, member).status == Attendance.Status.PRESENT


def test_others_cannot_invite(
    client, upcoming, branch_a, secretary_of_b, provincial_viewer
):
    someone = factories.make_member(branch_a)
    for user, refused in ((secretary_of_b, 404), (provincial_viewer, 403)):
        client.force_login(user)
        response = client.post(step_url(upcoming, "invite"), {"members": [someone.pk]})
        assert response.status_code == refused
    assert not Attendance.objects.filter(member=someone).exists()
