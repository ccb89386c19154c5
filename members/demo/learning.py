"""Demo study: courses and a small question bank the demo members can try.

Published by the demo branch's secretary through the course services; the
questions are written directly, as an XLSX import would leave them. A
second run adds nothing.
"""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model

from learning.models import Course, Question
from learning.services import courses
from members.demo.tree import placement
from organizations.models import Organization
from organizations.scope import scope_for

COURSES = [
    {
        "title": "学习新修订的《中国共产党章程》",
        "category": Course.Category.THEORY,
        "credit_hours": Decimal("1.00"),
        "body": (
            "<h3>总纲</h3><p>中国共产党是中国工人阶级的先锋队，同时是中国人民和"
            "中华民族的先锋队。</p><h3>党员的义务</h3><ol><li>认真学习。</li>"
            "<li>按期交纳党费。</li><li>参加党的组织生活。</li></ol>"
        ),
        "questions": [
            ("single", "党员应当按期交纳什么？", ["党费", "会费", "押金"], [0]),
            ("true_false", "流动党员可以在流入地参加组织生活。", [], [1]),
            (
                "multiple",
                "“三会一课”包括哪些？",
                ["支部党员大会", "支部委员会会议", "党小组会", "运动会"],
                [0, 1, 2],
            ),
        ],
    },
    {
        "title": "预备党员培训：党的组织原则",
        "category": Course.Category.DISCIPLINE,
        "credit_hours": Decimal("0.50"),
        "body": "<p>民主集中制是党的根本组织原则。</p>",
        "required_for": Course.Audience.PROBATIONARY,
        "questions": [
            ("single", "党的根本组织原则是什么？", ["民主集中制", "自愿原则"], [0]),
        ],
    },
]


def seed_learning(*, today: datetime.date) -> None:
    secretary = get_user_model().objects.filter(username="demo_secretary").first()
    branch = Organization.objects.filter(code=placement(0).code).first()
    if secretary is None or branch is None:
        return
    scope = scope_for(secretary)
    for spec in COURSES:
        if Course.objects.filter(organization=branch, title=spec["title"]).exists():
            continue
        required_for = spec.get("required_for", "")
        course = courses.create_course(
            actor=secretary,
            scope=scope,
            organization=branch,
            details=courses.CourseDetails(
                title=spec["title"],
                category=spec["category"],
                credit_hours=spec["credit_hours"],
                valid_from=today.replace(month=1, day=1),
                body=spec["body"],
                required_for=required_for,
                deadline=today.replace(month=12, day=31) if required_for else None,
            ),
        )
        courses.publish_course(actor=secretary, scope=scope, course=course)
        Question.objects.bulk_create(
            Question(
                course=course, kind=kind, text=text, options=options, answer=answer
            )
            for kind, text, options, answer in spec["questions"]
        )
