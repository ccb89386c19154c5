"""Admin for roster imports: upload, preview, progress, commit and report.

The admin only translates between HTTP and ``members.imports``, which
checks the scope, stores the file and runs each step.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from treebeard.forms import TreeNodeChoiceField

from members import exports, imports
from members.models import RosterImport
from members.services import audit_record
from organizations.admin import ScopedAdmin, request_scope
from organizations.models import Organization
from organizations.scope import OutOfScope, organizations_in_scope


class RosterUploadForm(forms.Form):
    """A roster file, the organisation it goes into, and the mode."""

    file = forms.FileField(label=_("Roster file"))
    organization = TreeNodeChoiceField(
        queryset=Organization.objects.none(), label=_("Import into")
    )
    all_or_nothing = forms.TypedChoiceField(
        label=_("When some rows fail"),
        choices=[
            ("no", _("Import the valid rows and report the others")),
            ("yes", _("All or nothing: import nothing if any row fails")),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        initial="no",
    )

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        organizations = organizations_in_scope(scope, write=True).order_by("path")
        self.fields["organization"].queryset = organizations
        # A secretary of one branch has nothing to choose.
        only = list(organizations[:2])
        if len(only) == 1:
            self.fields["organization"].initial = only[0].pk
        self.fields["file"].help_text = _(
            "XLSX, XLS or CSV, at most %(size)s. Rows are checked first; "
            "nothing is written until you confirm."
        ) % {"size": filesizeformat(settings.LIUDONG_ROSTER_IMPORT_MAX_BYTES)}


@admin.register(RosterImport)
class RosterImportAdmin(ScopedAdmin):
    # A job is never edited or deleted here: its page shows the report and
    # offers the commit; uploads are purged by members.tasks.
    write_access = "nobody"
    delete_access = "nobody"
    list_display = (
        "requested_at",
        "file_name",
        "organization",
        "state",
        "rows",
        "valid",
        "imported",
        "unchanged",
        "error_count",
    )
    list_display_links = ("requested_at", "file_name")
    ordering = ("-requested_at", "-id")

    def scoped_queryset(self, request, scope):
        return imports.roster_import_list(scope=scope)

    def has_module_permission(self, request):
        return imports.may_import(request_scope(request))

    def has_view_permission(self, request, obj=None):
        return imports.may_import(request_scope(request))

    def has_add_permission(self, request):
        return imports.may_import(request_scope(request))

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:job_id>/progress/",
                wrap(self.progress_view),
                name="{}_{}_progress".format(*info),
            ),
            path(
                "<int:job_id>/commit/",
                wrap(require_POST(self.commit_view)),
                name="{}_{}_commit".format(*info),
            ),
            path(
                "<int:job_id>/report.xlsx",
                wrap(self.report_view),
                name="{}_{}_report".format(*info),
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        """Upload a roster file and start its preview."""
        scope = request_scope(request)
        if not imports.may_import(scope):
            raise PermissionDenied
        form = RosterUploadForm(
            request.POST or None, request.FILES or None, scope=scope
        )
        if request.method == "POST" and form.is_valid():
            try:
                job = imports.roster_import_create(
                    actor=request.user,
                    organization=form.cleaned_data["organization"],
                    upload=form.cleaned_data["file"],
                    all_or_nothing=form.cleaned_data["all_or_nothing"],
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                return redirect(self._job_url(job))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import a roster"),
            "form": form,
        }
        return TemplateResponse(
            request, "admin/members/rosterimport/upload.html", context
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show an import: its progress, its report, and the commit button."""
        job = imports.roster_import_get(scope=request_scope(request), job_id=object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Roster import"),
            "original": job,
            "job": job,
            "progress": imports.progress_of(job),
            "report": imports.report_for_page(job) if job.report else None,
            "can_commit": self._can_commit(request, job),
            "shown_issues": imports.SHOWN_ISSUES,
        }
        return TemplateResponse(request, "admin/members/rosterimport/job.html", context)

    def progress_view(self, request, job_id):
        """Answer where a running import stands, for the progress bar."""
        job = imports.roster_import_get(scope=request_scope(request), job_id=job_id)
        response = JsonResponse(imports.progress_of(job))
        response["Cache-Control"] = "no-store"
        return response

    def commit_view(self, request, job_id):
        """Write the previewed rows: now when small, else in the background."""
        job = imports.roster_import_get(scope=request_scope(request), job_id=job_id)
        try:
            job = imports.roster_import_commit(actor=request.user, job=job)
        except imports.RosterImportStateError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(self._job_url(job))
        if job.committed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d member imported.",
                    "%(count)d members imported.",
                    job.imported,
                )
                % {"count": job.imported},
                messages.SUCCESS,
            )
        return redirect(self._job_url(job))

    def report_view(self, request, job_id):
        """Download an import's row report as a workbook."""
        job = imports.roster_import_get(scope=request_scope(request), job_id=job_id)
        if not job.report:
            raise OutOfScope()
        audit_record(
            actor=request.user,
            action="roster.import_report",
            organization=job.organization,
            roster_import=job.pk,
        )
        response = FileResponse(
            imports.report_workbook(job),
            as_attachment=True,
            filename=f"roster-import-{job.pk}-report.xlsx",
            content_type=exports.XLSX_CONTENT_TYPE,
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.display(description=_("status"))
    def state(self, job: RosterImport) -> str:
        return f"{job.get_step_display()}: {job.get_status_display()}"

    def _job_url(self, job: RosterImport) -> str:
        return reverse("admin:members_rosterimport_change", args=[job.pk])

    def _can_commit(self, request, job: RosterImport) -> bool:
        if job.requested_by_id != request.user.pk or job.file_deleted_at:
            return False
        if job.step == RosterImport.Step.COMMIT:
            return job.status == RosterImport.Status.FAILED
        return (
            job.status == RosterImport.Status.DONE and job.valid > 0 and not job.refused
        )
