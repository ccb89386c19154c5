"""Admin for the roster, correction requests, audit trail and code tables.

Every read goes through the actor's scope (see ``organizations.admin``) and
every write through ``members.services``; the admin only translates.
"""

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.admin.widgets import AdminDateWidget
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Case, Exists, OuterRef, Value, When
from django.db.models.functions import Left
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from treebeard.forms import TreeNodeChoiceField

from members import exports
from members.admin.contacts import (
    PLACED_FIELDSETS,
    MemberQueueFilter,
    MemberWorkMixin,
)
from members.identity import IdentityError, mask, parse_phone
from members.models import (
    AuditEvent,
    CorrectionRequest,
    Education,
    Ethnicity,
    Industry,
    Member,
    Occupation,
    User,
)
from members.selectors import (
    Access,
    current_organization,
    member_list,
    membership_history,
    periods_on,
    search,
)
from members.services import (
    audit_record,
    correction_request_decide,
    id_number_reveal,
    member_create,
    member_update,
    validate_record,
)
from organizations.admin import OperatorOnlyAdmin, ScopedAdmin, request_scope
from organizations.meetings.selectors import member_recent_meetings
from organizations.models import Organization
from organizations.scope import organizations_in_scope, today

logger = logging.getLogger(__name__)

# Form inputs that replace an encrypted value, and the field each one sets.
WRITE_ONLY_FIELDS = {"new_id_number": "id_number", "new_phone": "phone"}
# Fields the ID number must agree with (validate_record).
RECORD_FIELDS = ("birth_date", "gender", "joined_on", "full_member_on")
MEMBER_FIELDS = frozenset(f.name for f in Member._meta.concrete_fields)
AUDIT_TRAIL_LENGTH = 20

IDENTITY_FIELDS = ("name", "gender", "birth_date", "ethnicity")
PARTY_FIELDS = ("status", "joined_on", "full_member_on")
LIFE_FIELDS = (
    "education",
    "occupation",
    "work_unit",
    "is_migrant_worker",
    "file_custodian",
    "hukou_region",
    "hukou_address",
    "residence_region",
    "residence_address",
    "lost_contact_since",
)


class OrganizationFilter(admin.SimpleListFilter):
    """Members held today anywhere below one organisation in scope."""

    title = _("organization")
    parameter_name = "organization"

    def lookups(self, request, model_admin):
        # TODO: offer an autocomplete instead of a list; a province has
        # thousands of organisations, the demo data hundreds.
        organizations = list(
            organizations_in_scope(request_scope(request)).order_by("path")
        )
        top = min((o.depth for o in organizations), default=1)
        return [(str(o.pk), "\u3000" * (o.depth - top) + o.name) for o in organizations]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return None
        organization = None
        if value.isdigit():
            scoped = organizations_in_scope(request_scope(request))
            organization = scoped.filter(pk=value).first()
        if organization is None:
            return queryset.none()
        held = periods_on(today()).filter(
            member=OuterRef("pk"), organization__path__startswith=organization.path
        )
        return queryset.filter(Exists(held))


class LivingElsewhereFilter(admin.SimpleListFilter):
    """Members living in another province than their organisation's region."""

    # TODO: replace with the Mobility filter (registered, reported, lost
    # contact); the Mobility model arrives with the mobility issue (#4).
    title = _("living elsewhere")
    parameter_name = "elsewhere"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return None
        # Region codes start with the two digits of their province.
        elsewhere = Exists(
            periods_on(today())
            .filter(member=OuterRef("pk"))
            .annotate(province=Left("organization__region_id", 2))
            .exclude(province=Left(OuterRef("residence_region_id"), 2))
        )
        if self.value() == "yes":
            return queryset.filter(elsewhere, residence_region__isnull=False)
        return queryset.exclude(elsewhere)


class MemberForm(forms.ModelForm):
    """A member record as the admin edits it.

    The ID number and phone are write-only: their inputs start blank, the
    record keeps its value unless one is typed, and the plaintext never
    reaches the page.
    """

    new_id_number = forms.CharField(
        label=_("New ID number"),
        required=False,
        max_length=32,
        help_text=_("Leave blank to keep the current number."),
    )
    new_phone = forms.CharField(
        label=_("New phone"),
        required=False,
        max_length=32,
        help_text=_("Leave blank to keep the current phone."),
    )

    class Meta:
        model = Member
        # Never the encrypted fields: their values would reach the page.
        fields = (*IDENTITY_FIELDS, *PARTY_FIELDS, *LIFE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        self._clean_identity(cleaned)
        self._clean_phone(cleaned)
        return cleaned

    def member_changes(self) -> dict:
        """The changed fields of the record, by model field name."""
        changes = {}
        for name in self.changed_data:
            value = self.cleaned_data[name]
            if name in WRITE_ONLY_FIELDS and value:
                changes[WRITE_ONLY_FIELDS[name]] = value
            elif name in MEMBER_FIELDS:
                changes[name] = value
        return changes

    def _clean_identity(self, cleaned: dict) -> None:
        # The same rules the service applies, checked here so that a fault
        # shows beside its field; the service checks them again on save.
        new_id = cleaned.get("new_id_number", "")
        adding = self.instance.pk is None
        touched = adding or new_id or set(self.changed_data) & set(RECORD_FIELDS)
        if not touched or "new_id_number" in self.errors:
            return
        values = {
            f: cleaned.get(f) if f in self.fields else getattr(self.instance, f)
            for f in RECORD_FIELDS
        }
        try:
            identity = validate_record(
                id_number=new_id or self.instance.id_number, **values
            )
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                self.add_error(self._form_field(field), errors)
            return
        if not new_id:
            return
        others = Member.objects.filter(id_number_hash=identity.hash)
        if adding:
            taken = others.exists()
        else:
            taken = others.exclude(pk=self.instance.pk).exists()
        if taken:
            self.add_error(
                "new_id_number",
                ValidationError(
                    _("A member with this ID number already exists."),
                    code="duplicate",
                ),
            )
        cleaned["new_id_number"] = identity.value

    def _clean_phone(self, cleaned: dict) -> None:
        raw = cleaned.get("new_phone", "")
        if not raw:
            return
        try:
            cleaned["new_phone"] = parse_phone(raw)
        except IdentityError as exc:
            self.add_error("new_phone", ValidationError(exc.message, code=exc.code))

    def _form_field(self, field: str) -> str | None:
        for form_field, model_field in WRITE_ONLY_FIELDS.items():
            if model_field == field:
                return form_field
        return field if field in self.fields else None


class MemberAddForm(MemberForm):
    """A new member, held from a date by an organisation the actor writes."""

    organization = TreeNodeChoiceField(
        queryset=Organization.objects.none(), label=_("organization")
    )
    starts_on = forms.DateField(
        label=_("member there since"), initial=today, widget=AdminDateWidget
    )
    # Set by MemberAdmin.get_form: the organisations offered are the ones
    # the actor may write.
    scope = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations_in_scope(
            self.scope, write=True
        ).order_by("path")
        self.fields["new_id_number"].required = True
        self.fields["new_id_number"].label = _("ID number")
        self.fields["new_id_number"].help_text = ""
        self.fields["new_phone"].label = _("phone")
        self.fields["new_phone"].help_text = ""

    def create_arguments(self) -> dict:
        """Keyword arguments for members.services.member_create."""
        arguments = dict(self.cleaned_data)
        for form_field, model_field in WRITE_ONLY_FIELDS.items():
            arguments[model_field] = arguments.pop(form_field)
        return arguments


@admin.register(Member)
class MemberAdmin(MemberWorkMixin, ScopedAdmin):
    form = MemberForm
    write_access = "scope"
    list_display = (
        "name",
        "id_number_masked",
        "phone_masked",
        "gender",
        "status",
        "organization_name",
        "occupation",
    )
    list_filter = (
        MemberQueueFilter,
        OrganizationFilter,
        "status",
        "occupation",
        "occupation__is_new_employment",
        LivingElsewhereFilter,
    )
    list_per_page = 50
    # Only shows the search box: get_search_results decides what matches.
    search_fields = ("name",)
    search_help_text = _("A name, or a full ID number or phone number.")
    autocomplete_fields = ("hukou_region", "residence_region")
    readonly_fields = (
        "id_number_masked",
        "phone_masked",
        "organization_name",
        "membership_history_table",
        "organisational_life_table",
        "audit_trail_table",
    )

    def scoped_queryset(self, request, scope):
        return member_list(scope=scope)

    def organization_of(self, member):
        # Cached on the instance: a page asks the permissions several times.
        if not hasattr(member, "_admin_organization"):
            member._admin_organization = current_organization(member)
        return member._admin_organization

    def get_search_results(self, request, queryset, search_term):
        found = search(queryset, search_term)
        # The autocomplete view pages the result without ordering it, which
        # can repeat or skip members across pages; the changelist reorders.
        if not found.ordered:
            found = found.order_by("pk")
        return found, False

    def lookup_allowed(self, lookup, value, request=None):
        # Django lets a URL filter on any plain column; the encrypted values
        # and their blind indexes are matched only through the search box.
        sealed = ("id_number", "phone", "id_number_hash", "phone_hash")
        if lookup.split("__")[0] in sealed:
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (_("Organization"), {"fields": ("organization", "starts_on")}),
                (
                    _("Identity"),
                    {"fields": (*IDENTITY_FIELDS, "new_id_number", "new_phone")},
                ),
                (_("Party membership"), {"fields": PARTY_FIELDS}),
                (_("Work and residence"), {"fields": LIFE_FIELDS}),
            ]
        if self.member_access(request, obj) is Access.PLACED:
            # Dual management: the inflow side sees what it needs to host
            # the member, never the history or (later) income and dues.
            return PLACED_FIELDSETS
        secrets = ("id_number_masked", "phone_masked")
        if self.has_change_permission(request, obj):
            secrets = ("id_number_masked", "new_id_number", "phone_masked", "new_phone")
        return [
            (_("Identity"), {"fields": (*IDENTITY_FIELDS, *secrets)}),
            (_("Party membership"), {"fields": (*PARTY_FIELDS, "organization_name")}),
            (_("Work and residence"), {"fields": LIFE_FIELDS}),
            (
                _("History"),
                {
                    "fields": (
                        "membership_history_table",
                        "organisational_life_table",
                        "audit_trail_table",
                    )
                },
            ),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MemberAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.scope = request_scope(request)
        return form

    def save_model(self, request, obj, form, change):
        if change:
            changes = form.member_changes()
            if changes:
                member_update(actor=request.user, member=obj, **changes)
            return
        member = member_create(actor=request.user, **form.create_arguments())
        # The admin goes on to log and redirect with the instance it built.
        obj.pk = member.pk
        obj._state.adding = False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # The form checks what it can beside each field; what only the
            # service sees (a duplicate saved meanwhile) arrives here, after
            # the transaction has rolled back.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            # Every view of a member's detail is on the record (issue 10).
            member = response.context_data["original"]
            audit_record(actor=request.user, action="member.view", member=member)
        return response

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None:
            context["can_reveal"] = self._sees_full_id(request, obj)
            context.update(self.work_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="{}_{}_export".format(*info)),
            path(
                "<path:object_id>/reveal-id-number/",
                wrap(self.reveal_view),
                name="{}_{}_reveal".format(*info),
            ),
            *self.work_urls(),
            *super().get_urls(),
        ]

    def reveal_view(self, request, object_id):
        """Show one member's full ID number once, for a stated reason."""
        member = self.get_object(request, object_id)
        if not self._sees_full_id(request, member):
            raise PermissionDenied
        id_number, errors = None, []
        if request.method == "POST":
            try:
                id_number = id_number_reveal(
                    actor=request.user,
                    member=member,
                    reason=request.POST.get("reason", ""),
                )
            except ValidationError as exc:
                errors = exc.messages
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": member,
            "title": _("Reveal full ID number"),
            "id_number": id_number,
            "errors": errors,
        }
        return TemplateResponse(
            request, "admin/members/member/reveal_id_number.html", context
        )

    def export_view(self, request):
        """Stream the roster as the changelist filters and searches it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        params = request.GET.copy()
        encoding = params.pop("encoding", ["utf-8"])[-1]
        if encoding not in exports.ENCODINGS:
            return HttpResponseBadRequest(_("Unknown encoding."))
        file_format = params.pop("format", ["csv"])[-1]
        if file_format not in exports.FORMATS:
            return HttpResponseBadRequest(_("Unknown format."))
        # The changelist refuses parameters it does not know.
        request.GET = params
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(_("Unknown filter."))

        scope = request_scope(request)
        masked = exports.roster_masked(scope)
        audit_record(
            actor=request.user,
            action="roster.export",
            filters={k: v for k, v in params.items() if k != SEARCH_VAR},
            # The search may be an ID number or phone: only its mask is kept.
            search=mask(changelist.query),
            rows=changelist.result_count,
            masked=masked,
            encoding=encoding,
            format=file_format,
        )
        logger.info(
            "roster exported actor_id=%s rows=%s masked=%s format=%s",
            request.user.pk,
            changelist.result_count,
            masked,
            file_format,
        )
        return exports.roster_response(
            changelist.queryset, scope=scope, encoding=encoding, file_format=file_format
        )

    @admin.display(description=_("ID number"))
    def id_number_masked(self, member: Member) -> str:
        return member.masked_id_number

    @admin.display(description=_("phone"))
    def phone_masked(self, member: Member) -> str:
        return member.masked_phone

    @admin.display(description=_("organization"))
    def organization_name(self, member: Member) -> str:
        return getattr(member, "current_organization_name", None) or "—"

    @admin.display(description=_("membership history"))
    def membership_history_table(self, member: Member):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    period.organization.name,
                    period.starts_on.isoformat(),
                    period.last_day.isoformat() if period.last_day else _("today"),
                )
                for period in membership_history(member)
            ),
        )
        return _table((_("Organization"), _("From"), _("Until")), rows)

    @admin.display(description=_("organisational life (last 6 months)"))
    def organisational_life_table(self, member: Member):
        # Wherever the meetings were: a mobile member's attendance at the
        # inflow organisation shows here, to the organisation holding them.
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    a.meeting.held_on.isoformat(),
                    a.meeting.organization.name,
                    f"{a.meeting.get_kind_display()} · {a.meeting.title}",
                    a.get_status_display(),
                )
                for a in member_recent_meetings(member)
            ),
        )
        return _table(
            (_("Date"), _("Organization"), _("Meeting"), _("Attendance")), rows
        )

    @admin.display(description=_("audit trail"))
    def audit_trail_table(self, member: Member):
        events = member.audit_events.select_related("actor")[:AUDIT_TRAIL_LENGTH]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M"),
                    event.actor or "—",
                    event.action,
                    ", ".join(event.details.get("fields", [])),
                )
                for event in events
            ),
        )
        return _table((_("At"), _("By"), _("Action"), _("Fields")), rows)

    def _sees_full_id(self, request, member: Member) -> bool:
        organization = self.organization_of(member)
        scope = request_scope(request)
        return scope.is_operator or (
            organization is not None and scope.sees_full_ids(organization)
        )


def _table(headers, rows):
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, rows
    )


PENDING_FIRST = Case(
    When(status=CorrectionRequest.Status.PENDING, then=Value(0)), default=Value(1)
)


@admin.register(CorrectionRequest)
class CorrectionRequestAdmin(ScopedAdmin):
    # A request is never edited: it is decided through the actions, which
    # call the service. Nobody deletes one: it is part of the record.
    write_access = "nobody"
    delete_access = "nobody"
    actions = ("approve", "reject")
    list_display = (
        "member",
        "field_label",
        "requested_value_display",
        "status",
        "requested_at",
        "decided_by",
    )
    list_filter = ("status", "field")
    list_select_related = ("member", "decided_by")
    ordering = (PENDING_FIRST.asc(), "-requested_at")
    fields = (
        "member",
        "field_label",
        "requested_value_display",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_note",
    )
    readonly_fields = fields

    def scoped_queryset(self, request, scope):
        requests = CorrectionRequest.objects.all()
        if scope.is_operator:
            return requests
        # Only those who could apply a correction see the requests.
        writable = member_list(scope=scope, write=True).values("pk")
        return requests.filter(member__in=writable)

    def has_module_permission(self, request):
        return self.has_decide_permission(request)

    def has_view_permission(self, request, obj=None):
        return self.has_decide_permission(request)

    def has_decide_permission(self, request) -> bool:
        scope = request_scope(request)
        return scope.is_operator or bool(scope.write_paths)

    @admin.action(description=_("Approve selected requests"), permissions=["decide"])
    def approve(self, request, queryset):
        if self.selection_in_scope(request, queryset):
            self._decide(request, queryset, approve=True)

    @admin.action(description=_("Reject selected requests"), permissions=["decide"])
    def reject(self, request, queryset):
        if not self.selection_in_scope(request, queryset):
            return None
        confirmed = "confirm" in request.POST
        note = request.POST.get("decision_note", "").strip()
        if confirmed and note:
            self._decide(request, queryset, approve=False, note=note)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Reject correction requests"),
            "queryset": queryset.select_related("member"),
            "note_missing": confirmed,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/members/correctionrequest/reject.html", context
        )

    def _decide(self, request, queryset, *, approve: bool, note: str = "") -> None:
        decided = 0
        for correction in queryset.select_related("member"):
            try:
                correction_request_decide(
                    actor=request.user, request=correction, approve=approve, note=note
                )
            except ValidationError as exc:
                self.message_user(
                    request,
                    f"{correction.member}: {' '.join(exc.messages)}",
                    messages.WARNING,
                )
            else:
                decided += 1
        if decided:
            self.message_user(
                request,
                ngettext(
                    "%(count)d request decided.", "%(count)d requests decided.", decided
                )
                % {"count": decided},
                messages.SUCCESS,
            )

    @admin.display(description=_("field"))
    def field_label(self, correction: CorrectionRequest) -> str:
        try:
            return str(Member._meta.get_field(correction.field).verbose_name)
        except FieldDoesNotExist:
            return correction.field

    @admin.display(description=_("requested value"))
    def requested_value_display(self, correction: CorrectionRequest) -> str:
        if correction.field == "phone":
            return mask(correction.requested_value)
        return correction.requested_value


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedAdmin):
    # The audit trail is read, never written, from the admin: not even an
    # operator changes or deletes it here.
    write_access = "nobody"
    delete_access = "nobody"
    list_display = ("at", "actor", "action", "member", "organization", "summary")
    list_filter = ("action",)
    list_select_related = ("actor", "member", "organization")

    def scoped_queryset(self, request, scope):
        events = AuditEvent.objects.all()
        if scope.is_operator:
            return events
        return events.filter(member__in=member_list(scope=scope).values("pk"))

    @admin.display(description=_("details"))
    def summary(self, event: AuditEvent) -> str:
        return ", ".join(f"{key}={value}" for key, value in event.details.items())


class CodeTableAdmin(ScopedAdmin):
    # Every staff role reads the code tables (forms offer them); operators
    # alone change them, and only operators find them on the index.
    list_display = ("code", "name")
    search_fields = ("code", "name")

    def has_module_permission(self, request):
        return request_scope(request).is_operator


admin.site.register(Ethnicity, CodeTableAdmin)
admin.site.register(Education, CodeTableAdmin)
admin.site.register(Industry, CodeTableAdmin)


@admin.register(Occupation)
class OccupationAdmin(CodeTableAdmin):
    list_display = ("code", "name", "is_new_employment")
    list_filter = ("is_new_employment",)


@admin.register(User)
class UserAdmin(OperatorOnlyAdmin, DjangoUserAdmin):
    """Login accounts: operators only (DESIGN.md §2)."""


# The mobility admin and its queues register themselves on import.
from members.admin import mobility  # noqa: E402, F401

# The roster import admin registers itself on import.
# isort: split
from members import admin_roster  # noqa: E402, F401

# The needs survey and yearly report admin registers itself on import.
from members.admin import surveys  # noqa: E402, F401
