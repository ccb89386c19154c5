"""Reads of courses and questions from the publishing side (the admin)."""

from django.db.models import QuerySet

from learning.models import Course, Question
from organizations.scope import Scope, subtree_q


def course_list(*, scope: Scope) -> QuerySet[Course]:
    """Courses published by organisations the scope reads."""
    courses = Course.objects.select_related("organization")
    if scope.is_operator:
        return courses
    return courses.filter(subtree_q(scope.read_paths, field_name="organization__path"))


def question_list(*, scope: Scope) -> QuerySet[Question]:
    """Questions of the courses the scope reads."""
    questions = Question.objects.select_related("course", "course__organization")
    if scope.is_operator:
        return questions
    return questions.filter(
        subtree_q(scope.read_paths, field_name="course__organization__path")
    )
