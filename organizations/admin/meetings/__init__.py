"""Organisational life in the admin: meetings, attendance, votes, compliance.

Nothing here writes a meeting row itself: the forms post to the services of
``organizations.meetings.services``, which check the actor's scope and the
rules of DESIGN.md §4; a refusal shows in the form and writes nothing. The
meeting page is the change form while the meeting is planned and a record
once it is held or cancelled; every other action is a step page.
"""

from zoneinfo import ZoneInfo

import segno
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from members.services import audit_record
from organizations.admin import ScopedAdmin, request_scope
from organizations.admin.meetings.compliance import compliance_page, compliance_url
from organizations.admin.meetings.forms import (
    AttachmentForm,
    InviteForm,
    MeetingForm,
    MinutesForm,
    ReasonForm,
    ResolutionForm,
    meeting_details,
)
from organizations.admin.steps import NoFields, Step, run_step
from organizations.meetings import rules, selectors, services
from organizations.meetings.checkin import checkin_token
from organizations.meetings.pdf import minutes_pdf
from organizations.models import Attendance, CheckInMethod, Meeting
from organizations.scope import Scope

Status = Attendance.Status
MEETING_PAGE = "admin/organizations/meeting/meeting.html"


# --- steps


def _meeting_url(meeting: Meeting) -> str:
    return reverse("admin:organizations_meeting_change", args=[meeting.pk])


def _close(request, meeting, data) -> str:
    services.close_meeting(
        actor=request.user,
        scope=request_scope(request),
        meeting=meeting,
        minutes=data["minutes"],
    )
    return _meeting_url(meeting)


def _cancel(request, meeting, data) -> str:
    services.cancel_meeting(
        actor=request.user,
        scope=request_scope(request),
        meeting=meeting,
        reason=data["reason"],
    )
    return _meeting_url(meeting)


def _resolve(request, meeting, data) -> str:
    services.record_resolution(
        actor=request.user,
        scope=request_scope(request),
        meeting=meeting,
        subject=data["subject"],
        member=data["member"],
        text=data["text"],
        ayes=data["ayes"],
        nays=data["nays"],
        abstentions=data["abstentions"],
        declared_passed=data["declared_passed"] or None,
    )
    return _meeting_url(meeting)


def _invite(request, meeting, data) -> str:
    services.invite_members(
        actor=request.user,
        scope=request_scope(request),
        meeting=meeting,
        members=list(data["members"]),
    )
    return _meeting_url(meeting)


def _uninvite(request, attendance, data) -> str:
    services.uninvite(
        actor=request.user, scope=request_scope(request), attendance=attendance
    )
    return _meeting_url(attendance.meeting)


def _attach(request, meeting, data) -> str:
    upload = data["file"]
    services.attach_file(
        actor=request.user,
        scope=request_scope(request),
        meeting=meeting,
        upload=upload,
        name=upload.name,
    )
    return _meeting_url(meeting)


def _remove_attachment(request, attachment, data) -> str:
    services.remove_attachment(
        actor=request.user, scope=request_scope(request), attachment=attachment
    )
    return _meeting_url(attachment.meeting)


REMOVE_ATTACHMENT = Step(
    name="remove-attachment",
    label=_("Remove the file"),
    done=_("The file was removed."),
    run=_remove_attachment,
    danger=True,
)


def _renew_code(request, meeting, data) -> str:
    services.renew_checkin_code(
        actor=request.user, scope=request_scope(request), meeting=meeting
    )
    return _meeting_url(meeting)


MEETING_STEPS = {
    "close": Step(
        name="close",
        label=_("Close the meeting"),
        done=_("The meeting was closed; its minutes are kept."),
        run=_close,
        form=MinutesForm,
        explanation=_(
            "Members still checked in are recorded as leaving now; invited "
            "members who never came are recorded absent."
        ),
    ),
    "invite": Step(
        name="invite",
        label=_("Invite members"),
        done=_("The members were invited and will be told."),
        run=_invite,
        form=InviteForm,
    ),
    "attach": Step(
        name="attach",
        label=_("Attach a file"),
        done=_("The file is kept with the minutes."),
        run=_attach,
        form=AttachmentForm,
        explanation=_(
            "Slides, a signed attendance sheet or photos of the meeting. The "
            "file is checked by its content and downloaded, never shown in "
            "the browser."
        ),
    ),
    "cancel": Step(
        name="cancel",
        label=_("Cancel the meeting"),
        done=_("The meeting was cancelled."),
        run=_cancel,
        form=ReasonForm,
        danger=True,
    ),
    "renew-code": Step(
        name="renew-code",
        label=_("Renew the QR code"),
        done=_("The meeting has a new QR code; the old one no longer works."),
        run=_renew_code,
        explanation=_(
            "Print or show the new code: copies of the old one, for instance "
            "a photo passed on to someone not present, stop working."
        ),
    ),
    "resolution": Step(
        name="resolution",
        label=_("Record a resolution"),
        done=_("The resolution was recorded."),
        run=_resolve,
        form=ResolutionForm,
        explanation=_(
            "Only full members whose relationship the organisation holds "
            "vote; more than half of them must be present, and a resolution "
            "passes when the ayes exceed half of them."
        ),
    ),
}


def _present(request, attendance, data) -> str:
    services.record_presence(
        actor=request.user, scope=request_scope(request), attendance=attendance
    )
    return _meeting_url(attendance.meeting)


def _absent(status):
    def run(request, attendance, data) -> str:
        services.record_absence(
            actor=request.user,
            scope=request_scope(request),
            attendance=attendance,
            status=status,
            reason=data.get("reason", ""),
        )
        return _meeting_url(attendance.meeting)

    return run


ATTENDANCE_STEPS = {
    "present": Step(
        name="present",
        label=_("Record present"),
        done=_("The member was recorded present."),
        run=_present,
        form=NoFields,
    ),
    "absent": Step(
        name="absent",
        label=_("Mark absent"),
        done=_("The member was marked absent."),
        run=_absent(Status.ABSENT),
        form=NoFields,
    ),
    "excuse": Step(
        name="excuse",
        label=_("Excuse"),
        done=_("The member's absence was excused."),
        run=_absent(Status.EXCUSED),
        form=ReasonForm,
    ),
    "uninvite": Step(
        name="uninvite",
        label=_("Take back the invitation"),
        done=_("The invitation was taken back."),
        run=_uninvite,
        form=NoFields,
        danger=True,
    ),
}


# --- the meeting page


def local_time(moment, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(moment, zone).strftime(fmt) if moment else "—"


def checkin_url(request, meeting: Meeting) -> str:
    """The absolute URL the meeting's QR code opens."""
    token = checkin_token(meeting)
    try:
        location = reverse("meetings:checkin", args=[token])
    except NoReverseMatch:
        # TODO: drop this fallback once the portal's check-in view is in
        # the URL map (the portal part of issue 6).
        location = f"/meetings/checkin/{token}/"
    return request.build_absolute_uri(location)


def checkin_qr_svg(url: str) -> str:
    """The QR code of ``url`` as inline SVG, to show or print from the page."""
    return segno.make(url, error="m").svg_inline(scale=5, title=str(_("Check in")))


def _stays(attendance: Attendance, zone: ZoneInfo) -> list[dict]:
    return [
        {
            "start": local_time(i.checked_in_at, zone, "%H:%M"),
            "end": local_time(i.left_at, zone, "%H:%M") if i.left_at else "",
            "method": CheckInMethod(i.method).label,
        }
        for i in attendance.intervals.all()
    ]


def _row_actions(meeting: Meeting, attendance: Attendance, started: bool):
    """The per-row steps worth offering; the services decide in the end."""
    own_check_in = any(
        i.method != CheckInMethod.SECRETARY for i in attendance.intervals.all()
    )
    names = []
    if not started and attendance.status == Status.INVITED:
        names.append("uninvite")
    if started and attendance.status != Status.PRESENT:
        names.append("present")
    if not own_check_in:
        if attendance.status != Status.ABSENT:
            names.append("absent")
        names.append("excuse")
    return [
        (
            ATTENDANCE_STEPS[name],
            reverse(
                "admin:organizations_meeting_attendance",
                args=[meeting.pk, attendance.pk, name],
            ),
        )
        for name in names
    ]


def meeting_page_context(request, meeting: Meeting, scope: Scope) -> dict:
    """Everything the meeting page shows besides its form."""
    zone = ZoneInfo(meeting.organization.time_zone)
    now = timezone.now()
    writes = scope.writes(meeting.organization)
    planned = meeting.status == Meeting.Status.PLANNED
    attendances = list(
        selectors.meeting_attendance(meeting).prefetch_related("changes__actor")
    )
    rows = [
        {
            "attendance": a,
            "stays": _stays(a, zone),
            "actions": (
                _row_actions(meeting, a, now >= meeting.starts_at)
                if writes and meeting.status != Meeting.Status.CANCELLED
                else []
            ),
        }
        for a in attendances
    ]
    changes = sorted(
        ((a, c) for a in attendances for c in a.changes.all()),
        key=lambda pair: (pair[1].at, pair[1].pk),
    )
    context = {
        "meeting": meeting,
        "writes": writes,
        "zone": zone.key,
        "facts": _facts(meeting, zone),
        # Cleaned again on the way out: rows written before the cleaning
        # rules tightened must not carry markup the rules now refuse.
        "minutes_html": mark_safe(services.clean_minutes(meeting.minutes)),  # noqa: S308
        "rows": rows,
        "counts": {s: sum(a.status == s for a in attendances) for s in Status.values},
        "changes": [
            {
                "at": local_time(c.at, zone),
                "member": a.member.name,
                "from": str(Status(c.from_status).label),
                "to": str(Status(c.to_status).label),
                "actor": str(c.actor or "—"),
                "reason": c.reason,
            }
            for a, c in changes
        ],
        "resolutions": list(meeting.resolutions.select_related("member")),
        "attachments": [
            {
                "attachment": a,
                "url": reverse(
                    "admin:organizations_meeting_attachment", args=[meeting.pk, a.pk]
                ),
                "remove_url": reverse(
                    "admin:organizations_meeting_attachment_remove",
                    args=[meeting.pk, a.pk],
                )
                if writes
                else "",
                "uploaded_at": local_time(a.uploaded_at, zone),
            }
            for a in meeting.attachments.select_related("uploaded_by")
        ],
        "steps": _meeting_steps(meeting, writes),
        "pdf_url": reverse("admin:organizations_meeting_minutes", args=[meeting.pk]),
        "compliance_url": compliance_url(meeting.organization),
    }
    if planned and writes:
        context["checkin_url"] = checkin_url(request, meeting)
        # segno draws the URL as modules of a path, never as text, and the
        # SVG's title is our own string: the markup carries no user input.
        context["checkin_qr"] = mark_safe(checkin_qr_svg(context["checkin_url"]))  # noqa: S308
    return context


def _facts(meeting: Meeting, zone: ZoneInfo) -> list[tuple[str, str]]:
    facts = [
        (_("organization"), meeting.organization.name),
        (_("kind of meeting"), meeting.get_kind_display()),
        (_("status"), meeting.get_status_display()),
        (_("starts at"), f"{local_time(meeting.starts_at, zone)} ({zone.key})"),
        (_("ends at"), local_time(meeting.ends_at, zone)),
        (_("mode"), meeting.get_mode_display()),
        (_("place"), meeting.place or "—"),
        (_("online link"), meeting.online_link or "—"),
    ]
    if meeting.series_id:
        facts.append((_("recurring meeting"), meeting.series.title))
    if meeting.closed_at:
        facts.append((_("closed at"), local_time(meeting.closed_at, zone)))
        facts.append((_("closed by"), meeting.closed_by))
    return facts


def _meeting_steps(meeting: Meeting, writes: bool) -> list[tuple[Step, str]]:
    if not writes:
        return []
    names = []
    if meeting.status == Meeting.Status.PLANNED:
        names += ["invite", "close", "cancel", "renew-code"]
    if meeting.status != Meeting.Status.CANCELLED:
        names.append("attach")
    if (
        meeting.kind in rules.VOTING_KINDS
        and meeting.status != Meeting.Status.CANCELLED
    ):
        names.append("resolution")
    return [
        (
            MEETING_STEPS[name],
            reverse("admin:organizations_meeting_step", args=[meeting.pk, name]),
        )
        for name in names
    ]


def _attendance_count(status: str | None = None) -> Subquery:
    rows = Attendance.objects.filter(meeting=OuterRef("pk"))
    if status is not None:
        rows = rows.filter(status=status)
    counted = rows.order_by().values("meeting").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(Meeting)
class MeetingAdmin(ScopedAdmin):
    # Written through the services only: the add and change pages post
    # their forms to plan_meeting and update_meeting, nothing is deleted.
    write_access = "scope"
    delete_access = "nobody"
    actions = None
    list_display = (
        "title",
        "kind",
        "organization",
        "local_start",
        "mode",
        "status",
        "attendance_figure",
    )
    list_filter = (
        "kind",
        "status",
        ("organization", admin.RelatedOnlyFieldListFilter),
    )
    date_hierarchy = "held_on"
    search_fields = ("title",)
    search_help_text = _("The meeting's title.")
    ordering = ("-starts_at", "-pk")

    def scoped_queryset(self, request, scope):
        return selectors.meeting_list(scope=scope).annotate(
            invited_count=_attendance_count(),
            present_count=_attendance_count(Status.PRESENT),
        )

    def organization_of(self, meeting):
        return meeting.organization

    def has_add_permission(self, request):
        scope = request_scope(request)
        return scope.is_operator or bool(scope.write_paths)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "compliance/",
                wrap(self.compliance_view),
                name="organizations_meeting_compliance",
            ),
            path(
                "<path:object_id>/step/<slug:step>/",
                wrap(self.step_view),
                name="organizations_meeting_step",
            ),
            path(
                "<path:object_id>/attendance/<int:attendance_id>/<slug:step>/",
                wrap(self.attendance_view),
                name="organizations_meeting_attendance",
            ),
            path(
                "<path:object_id>/attachments/<int:attachment_id>/",
                wrap(self.attachment_view),
                name="organizations_meeting_attachment",
            ),
            path(
                "<path:object_id>/attachments/<int:attachment_id>/remove/",
                wrap(self.remove_attachment_view),
                name="organizations_meeting_attachment_remove",
            ),
            path(
                "<path:object_id>/minutes.pdf",
                wrap(self.minutes_view),
                name="organizations_meeting_minutes",
            ),
            *super().get_urls(),
        ]

    # Pages

    def changelist_view(self, request, extra_context=None):
        # The list has no actions; a POST to it is refused outright rather
        # than shown the list again as if nothing had been asked.
        if request.method == "POST":
            raise PermissionDenied
        context = {"compliance_url": reverse("admin:organizations_meeting_compliance")}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        step = Step(
            name="plan",
            label=_("Plan the meeting"),
            done=_("The meeting was planned and its members invited."),
            run=self._plan,
            form=MeetingForm,
            explanation=_(
                "Times are the organisation's local time. Members are invited "
                "by the kind of meeting: the committee for a committee meeting, "
                "otherwise every member and the mobile members placed here."
            ),
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
    def _plan(request, _none, data) -> str:
        organization = data["organization"]
        meeting = services.plan_meeting(
            actor=request.user,
            scope=request_scope(request),
            organization=organization,
            details=meeting_details(data, organization),
        )
        return _meeting_url(meeting)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The meeting page: the form while planned, then the record."""
        meeting = self.get_object(request, object_id)
        scope = request_scope(request)
        writes = scope.writes(meeting.organization)
        if request.method == "POST" and not writes:
            raise PermissionDenied
        context = {
            **meeting_page_context(request, meeting, scope),
            "title": meeting.title,
            "original_label": meeting.title,
            **(extra_context or {}),
        }
        if writes and (
            meeting.status == Meeting.Status.PLANNED or request.method == "POST"
        ):
            step = Step(
                name="update",
                label=_("Save the changes"),
                done=_("The meeting was changed."),
                run=self._update,
                form=MeetingForm,
            )
            response = run_step(
                self,
                request,
                meeting,
                step,
                form_kwargs={"scope": scope, "meeting": meeting},
                context=context,
            )
            if isinstance(response, TemplateResponse):
                response.template_name = MEETING_PAGE
            return response
        return TemplateResponse(
            request,
            MEETING_PAGE,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": meeting,
                "title": meeting.title,
                **context,
            },
        )

    @staticmethod
    def _update(request, meeting, data) -> str:
        services.update_meeting(
            actor=request.user,
            scope=request_scope(request),
            meeting=meeting,
            details=meeting_details(data, meeting.organization),
        )
        return _meeting_url(meeting)

    def _writable(self, request, object_id) -> Meeting:
        meeting = self.get_object(request, object_id)
        if not request_scope(request).writes(meeting.organization):
            raise PermissionDenied
        return meeting

    def step_view(self, request, object_id, step):
        meeting = self._writable(request, object_id)
        if step not in MEETING_STEPS:
            raise Http404
        chosen = MEETING_STEPS[step]
        takes_meeting = chosen.form in (ResolutionForm, InviteForm)
        form_kwargs = {"meeting": meeting} if takes_meeting else {}
        return run_step(
            self,
            request,
            meeting,
            chosen,
            form_kwargs=form_kwargs,
            context={
                "summary": _summary(meeting),
                "original_label": meeting.title,
            },
        )

    def attendance_view(self, request, object_id, attendance_id, step):
        meeting = self._writable(request, object_id)
        attendance = (
            meeting.attendances.select_related("member", "meeting__organization")
            .filter(pk=attendance_id)
            .first()
        )
        if attendance is None or step not in ATTENDANCE_STEPS:
            raise Http404
        summary = [
            *_summary(meeting),
            (_("Member"), attendance.member.name),
            (_("Attendance"), attendance.get_status_display()),
        ]
        return run_step(
            self,
            request,
            attendance,
            ATTENDANCE_STEPS[step],
            context={
                "summary": summary,
                "original": meeting,
                "original_label": meeting.title,
            },
        )

    def minutes_view(self, request, object_id):
        """The minutes as a PDF; the download is on the record."""
        meeting = self.get_object(request, object_id)
        pdf = minutes_pdf(meeting)
        # The minutes name members and their absences: every download of
        # them is audited, as letters and exports are.
        audit_record(
            actor=request.user,
            action="meeting.minutes_download",
            organization=meeting.organization,
            meeting=meeting.pk,
        )
        response = HttpResponse(pdf, content_type="application/pdf")
        filename = f"minutes-{meeting.held_on:%Y%m%d}-{meeting.pk}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def attachment_view(self, request, object_id, attachment_id):
        """A file of the minutes, as a download no browser renders inline."""
        meeting = self.get_object(request, object_id)
        attachment = meeting.attachments.filter(pk=attachment_id).first()
        if attachment is None:
            raise Http404
        audit_record(
            actor=request.user,
            action="meeting.attachment_download",
            organization=meeting.organization,
            meeting=meeting.pk,
            attachment=attachment.pk,
        )
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.name,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store, private"
        return response

    def remove_attachment_view(self, request, object_id, attachment_id):
        meeting = self._writable(request, object_id)
        attachment = meeting.attachments.filter(pk=attachment_id).first()
        if attachment is None:
            raise Http404
        return run_step(
            self,
            request,
            attachment,
            REMOVE_ATTACHMENT,
            context={
                "summary": [*_summary(meeting), (_("File"), attachment.name)],
                "original": meeting,
                "original_label": meeting.title,
            },
        )

    def compliance_view(self, request):
        return compliance_page(self, request)

    # Columns

    @admin.display(description=_("starts at"), ordering="starts_at")
    def local_start(self, meeting: Meeting) -> str:
        zone = ZoneInfo(meeting.organization.time_zone)
        return local_time(meeting.starts_at, zone)

    @admin.display(description=_("present / invited"))
    def attendance_figure(self, meeting: Meeting) -> str:
        return f"{meeting.present_count} / {meeting.invited_count}"


def _summary(meeting: Meeting) -> list[tuple[str, str]]:
    zone = ZoneInfo(meeting.organization.time_zone)
    return [
        (_("Meeting"), meeting.title),
        (_("Organization"), meeting.organization.name),
        (_("Starts at"), local_time(meeting.starts_at, zone)),
        (_("Status"), meeting.get_status_display()),
    ]


# The recurring meetings' admin registers itself on import.
from organizations.admin.meetings import series  # noqa: E402, F401
