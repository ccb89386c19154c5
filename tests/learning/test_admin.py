"""The learning admin: pages render in scope, refuse out of it."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from learning.models import Course, OfflineStudy
from learning.rules import LOCAL_TIME_ZONE
from learning.selectors.hours import hours_compliance
from organizations.scope import scope_for
from tests.learning.arrange import make_course
from tests.learning.test_question_import import workbook

YEAR = datetime.datetime.now(LOCAL_TIME_ZONE).year


@pytest.fixture
def course(branch_a):
    return make_course(branch_a, published_at=None)


def change_url(course):
    return reverse("admin:learning_course_change", args=[course.pk])


def test_a_secretary_sees_their_course_and_another_branch_gets_404(
    client, course, secretary_of_a, secretary_of_b
):
    client.force_login(secretary_of_a)
    assert client.get(change_url(course)).status_code == 200

    client.force_login(secretary_of_b)
    assert client.get(change_url(course)).status_code == 404
    assert client.post(change_url(course), {"title": "x"}).status_code == 404
    import_url = reverse("admin:learning_course_import", args=[course.pk])
    assert client.get(import_url).status_code == 404


def test_a_provincial_viewer_reads_but_every_post_is_403(
    client, course, provincial_viewer
):
    client.force_login(provincial_viewer)
    changelist = reverse("admin:learning_course_changelist")

    assert client.get(changelist).status_code == 200
    assert client.get(change_url(course)).status_code == 200
    assert client.post(change_url(course), {"title": "x"}).status_code == 403
    action = {"action": "publish", "_selected_action": [course.pk]}
    assert client.post(changelist, action).status_code == 403
    assert client.get(reverse("admin:learning_course_add")).status_code == 403
    assert client.get(reverse("admin:learning_offline_study")).status_code == 403
    course.refresh_from_db()
    assert course.published_at is None


def test_a_secretary_adds_a_course_through_the_service(
    client, branch_a, secretary_of_a
):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:learning_course_add"),
        {
            "organization": branch_a.pk,
            "title": "新课程",
            "category": "theory",
            "credit_hours": "1.5",
            "valid_from": "2026-01-01",
            "required_for": "all",
        },
    )

    assert response.status_code == 200  # the deadline is missing
    assert "A required course needs a deadline." in response.content.decode()
    assert not Course.objects.filter(title="新课程").exists()


def test_the_publish_action_publishes(client, course, secretary_of_a):
    client.force_login(secretary_of_a)

    client.post(
        reverse("admin:learning_course_changelist"),
        {"action": "publish", "_selected_action": [course.pk]},
    )

    course.refresh_from_db()
    assert course.published_at is not None


def test_the_import_page_imports_and_lists_bad_rows(client, course, secretary_of_a):
    client.force_login(secretary_of_a)
    source = workbook(
        ["单选", "问题一", "甲", "乙", "", "", "A"],
        ["单选", "问题二", "甲", "乙", "", "", "E"],
    )
    source.name = "q.xlsx"

    response = client.post(
        reverse("admin:learning_course_import", args=[course.pk]), {"file": source}
    )

    assert response.status_code == 200
    report = response.context["report"]
    assert [(r.row, r.status) for r in report.rows] == [(2, "ok"), (3, "error")]
    assert 'data-status="error"' in response.content.decode()
    assert course.questions.count() == 1


def test_the_import_page_shows_a_refused_file(client, course, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:learning_course_import", args=[course.pk]),
        {"file": _named(b"not a workbook", "q.xlsx")},
    )

    assert response.context["form"].errors["file"]
    assert course.questions.count() == 0


def _named(data, name):
    return SimpleUploadedFile(name, data)


def test_the_offline_study_page_records_hours(client, member, secretary_of_a):
    client.force_login(secretary_of_a)

    response = client.post(
        reverse("admin:learning_offline_study"),
        {
            "member": member.pk,
            "title": "党课",
            "studied_on": f"{YEAR}-01-02",
            "hours": "2.5",
        },
    )

    assert response.status_code == 302
    study = OfflineStudy.objects.get(member=member)
    assert study.hours == Decimal("2.50")


def test_the_offline_study_page_refuses_another_branchs_member(
    client, member, secretary_of_b
):
    client.force_login(secretary_of_b)

    response = client.post(
        reverse("admin:learning_offline_study"),
        {"member": member.pk, "title": "党课", "studied_on": "2026-01-02", "hours": 1},
    )

    assert response.status_code == 200
    assert "member" in response.context["form"].errors
    assert not OfflineStudy.objects.exists()


def test_the_hours_page_shows_the_selectors_numbers(
    client, branch_a, member, secretary_of_a
):
    for day in (2, 3):
        OfflineStudy.objects.create(
            member=member,
            title="t",
            studied_on=datetime.date(YEAR, 1, day),
            hours=Decimal("16.50"),
        )
    client.force_login(secretary_of_a)

    response = client.get(
        reverse("admin:learning_hours") + f"?organization={branch_a.pk}&year={YEAR}"
    )

    expected = hours_compliance(
        scope=scope_for(secretary_of_a), organization=branch_a, year=YEAR
    )
    shown = response.context["compliance"]
    assert [(m.pk, m.hours, m.target) for m in shown.members] == [
        (m.pk, m.hours, m.target) for m in expected.members
    ]
    assert (shown.at_target, shown.share) == (1, expected.share)
    assert "33.00" in response.content.decode()


def test_the_hours_and_retention_pages_of_another_branch_are_404(
    client, branch_a, secretary_of_b
):
    client.force_login(secretary_of_b)

    for name in ("admin:learning_hours", "admin:learning_retention"):
        url = reverse(name) + f"?organization={branch_a.pk}"
        assert client.get(url).status_code == 404
    export = reverse("admin:learning_hours_export")
    assert client.get(f"{export}?organization={branch_a.pk}&year=2026").status_code == (
        404
    )


def test_the_retention_page_renders(client, branch_a, committee_staff):
    client.force_login(committee_staff)

    response = client.get(
        reverse("admin:learning_retention") + f"?organization={branch_a.pk}"
    )

    assert response.status_code == 200
    assert response.context["retention"].reviews == 0


def test_the_course_list_links_the_hours_retention_and_offline_pages(
    client, secretary_of_a
):
    from django.urls import reverse

    client.force_login(secretary_of_a)

    page = client.get(reverse("admin:learning_course_changelist"))

    content = page.content.decode()
    for name in ("learning_hours", "learning_retention", "learning_offline_study"):
        assert reverse(f"admin:{name}") in content


def test_a_read_only_viewer_is_not_offered_offline_study(client, provincial_viewer):
    from django.urls import reverse

    client.force_login(provincial_viewer)

    page = client.get(reverse("admin:learning_course_changelist"))

    content = page.content.decode()
    assert reverse("admin:learning_hours") in content
    assert reverse("admin:learning_offline_study") not in content
