"""Study in the admin: courses, the question bank and the secretaries' pages.

Rows are read through the actor's scope (learning.selectors.courses) and
written only through learning.services; a read-only role sees the pages
and is refused every POST (403), another branch's objects answer 404.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from learning.admin import pages
from learning.admin.forms import CourseForm, QuestionForm, course_details
from learning.models import Course, Question
from learning.selectors.courses import course_list, question_list
from learning.services import courses as services
from organizations.admin import ScopedAdmin, request_scope
from organizations.admin.steps import Step, run_step


def _writes_somewhere(request) -> bool:
    scope = request_scope(request)
    return scope.is_operator or bool(scope.write_paths)


@admin.register(Course)
class CourseAdmin(ScopedAdmin):
    # Written through learning.services.courses only; a course members
    # studied is never deleted (Progress protects it): it is withdrawn.
    write_access = "scope"
    delete_access = "nobody"
    actions = ("publish", "withdraw")
    list_display = (
        "title",
        "organization",
        "category",
        "credit_hours",
        "valid_from",
        "valid_until",
        "required_for",
        "deadline",
        "published_at",
        "questions_link",
    )
    list_filter = (
        "category",
        "required_for",
        ("published_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("title",)
    search_help_text = _("The course's title.")
    ordering = ("-valid_from", "title", "pk")
    readonly_fields = (
        "organization",
        "title",
        "category",
        "credit_hours",
        "valid_from",
        "valid_until",
        "body",
        "video_url",
        "file",
        "required_for",
        "deadline",
        "published_at",
    )
    fields = readonly_fields

    @admin.display(description=_("questions"))
    def questions_link(self, course: Course) -> str:
        # The question bank of a course: its list, and the XLSX import.
        questions = reverse("admin:learning_question_changelist")
        return format_html(
            '<a href="{}?course__id__exact={}">{}</a> · <a href="{}">{}</a>',
            questions,
            course.pk,
            _("list"),
            reverse("admin:learning_course_import", args=[course.pk]),
            _("import"),
        )

    def scoped_queryset(self, request, scope):
        return course_list(scope=scope)

    def organization_of(self, course):
        return course.organization

    def has_add_permission(self, request):
        return _writes_somewhere(request)

    def has_publish_permission(self, request) -> bool:
        return _writes_somewhere(request)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("hours/", wrap(self.hours_view), name="learning_hours"),
            path(
                "hours/export/",
                wrap(pages.hours_export_view),
                name="learning_hours_export",
            ),
            path("retention/", wrap(self.retention_view), name="learning_retention"),
            path(
                "offline-study/",
                wrap(self.offline_study_view),
                name="learning_offline_study",
            ),
            path(
                "<path:object_id>/questions/import/",
                wrap(self.import_view),
                name="learning_course_import",
            ),
            *super().get_urls(),
        ]

    # Pages

    def changelist_view(self, request, extra_context=None):
        # A POST here is a bulk action; Django would show a read-only role
        # the list again as if it had asked for nothing.
        if request.method == "POST" and not self.has_publish_permission(request):
            raise PermissionDenied
        pages = [
            (_("Study hours"), reverse("admin:learning_hours")),
            (_("Review retention"), reverse("admin:learning_retention")),
        ]
        if self.has_publish_permission(request):
            # A read-only role is not offered a page that would refuse it.
            pages.append(
                (_("Record offline study"), reverse("admin:learning_offline_study"))
            )
        context = {"learning_pages": pages}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        step = Step(
            name="create",
            label=_("Create the course"),
            done=_("The course was created; publish it when it is ready."),
            form=CourseForm,
            run=self._create,
        )
        return run_step(
            self,
            request,
            None,
            step,
            form_kwargs={"scope": request_scope(request)},
            context={"original": None},
        )

    @staticmethod
    def _create(request, _none, data) -> str:
        course = services.create_course(
            actor=request.user,
            scope=request_scope(request),
            organization=data["organization"],
            details=course_details(data),
        )
        return reverse("admin:learning_course_change", args=[course.pk])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        course = self.get_object(request, object_id)
        scope = request_scope(request)
        if not scope.writes(course.organization):
            if request.method == "POST":
                raise PermissionDenied
            return super().change_view(request, object_id, form_url, extra_context)
        step = Step(
            name="update",
            label=_("Save the changes"),
            done=_("The course was changed."),
            form=CourseForm,
            run=self._update,
        )
        return run_step(
            self,
            request,
            course,
            step,
            form_kwargs={"scope": scope, "course": course},
            context={
                "original_label": course.title,
                "import_url": reverse("admin:learning_course_import", args=[course.pk]),
            },
        )

    @staticmethod
    def _update(request, course, data) -> str:
        services.update_course(
            actor=request.user,
            scope=request_scope(request),
            course=course,
            details=course_details(data),
        )
        return reverse("admin:learning_course_change", args=[course.pk])

    def import_view(self, request, object_id):
        course = self.get_object(request, object_id)
        if not request_scope(request).writes(course.organization):
            raise PermissionDenied
        return pages.question_import_page(self, request, course)

    def hours_view(self, request):
        return pages.hours_page(self, request)

    def retention_view(self, request):
        return pages.retention_page(self, request)

    def offline_study_view(self, request):
        if not _writes_somewhere(request):
            raise PermissionDenied
        return pages.offline_study_page(self, request)

    # Actions

    @admin.action(description=_("Publish selected courses"), permissions=["publish"])
    def publish(self, request, queryset):
        if self.selection_in_scope(request, queryset):
            self._each(request, queryset, services.publish_course)

    @admin.action(description=_("Withdraw selected courses"), permissions=["publish"])
    def withdraw(self, request, queryset):
        if self.selection_in_scope(request, queryset):
            self._each(request, queryset, services.withdraw_course)

    def _each(self, request, queryset, service) -> None:
        done = 0
        for course in queryset:
            try:
                service(actor=request.user, scope=request_scope(request), course=course)
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"{course.title}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(count)d course done.", "%(count)d courses done.", done)
                % {"count": done},
                messages.SUCCESS,
            )


@admin.register(Question)
class QuestionAdmin(ScopedAdmin):
    # Questions come in through the import page of their course; here they
    # are corrected or retired (active), never deleted: reviews cite them.
    write_access = "scope"
    delete_access = "nobody"
    actions = None
    form = QuestionForm
    fields = (
        "course",
        "kind",
        "text",
        "option_lines",
        "answer_letters",
        "explanation",
        "active",
    )
    readonly_fields = ("course",)
    list_display = ("text_start", "course", "kind", "active")
    list_filter = (("course", admin.RelatedOnlyFieldListFilter), "kind", "active")
    search_fields = ("text",)
    search_help_text = _("The question's text.")
    ordering = ("course", "pk")

    def scoped_queryset(self, request, scope):
        return question_list(scope=scope)

    def organization_of(self, question):
        return question.course.organization

    def has_add_permission(self, request):
        # TODO: add a single question by hand (a create_question service);
        # the XLSX import is the only way in until secretaries ask for it.
        return False

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def get_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return self.fields
        return ("course", "kind", "text", "options", "answer", "explanation", "active")

    def get_readonly_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return self.readonly_fields
        return self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        services.update_question(
            actor=request.user,
            scope=request_scope(request),
            question=obj,
            kind=data["kind"],
            text=data["text"],
            options=data["options"],
            answer=data["answer"],
            explanation=data.get("explanation", ""),
            active=data.get("active", False),
        )

    @admin.display(description=_("question"), ordering="text")
    def text_start(self, question: Question) -> str:
        return str(question)
