"""Course services: scope, bad input, publishing and withdrawing."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from learning.services import courses as services
from members.models import AuditEvent
from organizations.scope import OutOfScope, ReadOnlyScope, scope_for
from tests.learning.arrange import make_course


def details(**kw) -> services.CourseDetails:
    fields = dict(
        title="党章学习",
        category="theory",
        credit_hours="2",
        valid_from=datetime.date(2026, 1, 1),
    )
    fields.update(kw)
    return services.CourseDetails(**fields)


def create(actor, organization, **kw):
    return services.create_course(
        actor=actor,
        scope=scope_for(actor),
        organization=organization,
        details=details(**kw),
    )


def test_a_secretary_creates_an_unpublished_course_of_their_branch(
    secretary_of_a, branch_a
):
    course = create(secretary_of_a, branch_a)

    assert course.credit_hours == Decimal("2.00")
    assert course.published_at is None
    assert AuditEvent.objects.filter(action="course.created").count() == 1


def test_another_branch_is_out_of_scope(secretary_of_b, branch_a):
    with pytest.raises(OutOfScope):
        create(secretary_of_b, branch_a)


def test_a_provincial_viewer_may_not_create(provincial_viewer, branch_a):
    with pytest.raises(ReadOnlyScope):
        create(provincial_viewer, branch_a)


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("credit_hours", {"credit_hours": "0"}),
        ("credit_hours", {"credit_hours": "100.01"}),
        ("credit_hours", {"credit_hours": "abc"}),
        ("valid_until", {"valid_until": datetime.date(2025, 12, 31)}),
        ("deadline", {"required_for": "all"}),
        ("video_url", {"video_url": "javascript:alert(1)"}),
        ("title", {"title": "  "}),
    ],
)
def test_bad_input_is_refused(secretary_of_a, branch_a, field, kw):
    with pytest.raises(ValidationError) as caught:
        create(secretary_of_a, branch_a, **kw)

    assert field in caught.value.error_dict


def test_the_body_keeps_formatting_and_only_our_own_images(secretary_of_a, branch_a):
    body = (
        '<p onclick="x()">a<script>b</script></p><img src="/media/a.png">'
        '<img src="https://evil.example/t.png"><a href="http://x">l</a>'
    )

    course = create(secretary_of_a, branch_a, body=body)

    assert course.body == '<p>a</p><img src="/media/a.png"><img>l'


def test_publish_and_withdraw_are_idempotent_and_audited(secretary_of_a, branch_a):
    course = make_course(branch_a, published_at=None)
    scope = scope_for(secretary_of_a)

    services.publish_course(actor=secretary_of_a, scope=scope, course=course)
    again = services.publish_course(actor=secretary_of_a, scope=scope, course=course)
    first_at = again.published_at
    withdrawn = services.withdraw_course(
        actor=secretary_of_a, scope=scope, course=course
    )

    assert first_at is not None
    assert withdrawn.published_at is None
    actions = list(
        AuditEvent.objects.filter(action__startswith="course.").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["course.published", "course.withdrawn"]


def test_update_keeps_the_organization_and_audits_changed_fields(
    secretary_of_a, branch_a
):
    course = create(secretary_of_a, branch_a)

    services.update_course(
        actor=secretary_of_a,
        scope=scope_for(secretary_of_a),
        course=course,
        details=details(title="新标题"),
    )

    course.refresh_from_db()
    assert course.title == "新标题"
    event = AuditEvent.objects.get(action="course.updated")
    assert event.details["fields"] == ["title"]
