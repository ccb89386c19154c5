"""The forms of the meeting admin; times are the organisation's local time."""

import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_prose_editor.fields import ProseEditorFormField
from django_prose_editor.widgets import AdminProseEditorWidget

from members.models import Member
from members.selectors import members_held_on
from organizations.admin.steps import (
    DateTimeInput,
    MonthField,
    OrganizationChoiceField,
)
from organizations.meetings import rules, selectors, services
from organizations.models import (
    Meeting,
    MeetingKind,
    MeetingMode,
    MeetingSeries,
    Organization,
    Resolution,
)
from organizations.scope import Scope, organizations_in_scope


def _holding_organizations(scope: Scope) -> QuerySet[Organization]:
    """Organisations the scope writes that hold meetings of their own."""
    return (
        organizations_in_scope(scope, write=True)
        .filter(kind__in=list(rules.OWED_BY))
        .exclude(dissolved_on__lt=timezone.localdate())
        .order_by("path")
    )


def _local_wall_time(moment: datetime.datetime, zone: str) -> datetime.datetime:
    """``moment`` as the naive wall-clock time of ``zone``, for a form."""
    return timezone.localtime(moment, ZoneInfo(zone)).replace(tzinfo=None)


def _in_zone(value: datetime.datetime, zone: str) -> datetime.datetime:
    """A form's datetime read as wall-clock time in the organisation's zone.

    The form parses in the server's zone; an organisation in another zone
    means its own clock, so the wall time is kept and the zone replaced.
    """
    naive = timezone.make_naive(value) if timezone.is_aware(value) else value
    return naive.replace(tzinfo=ZoneInfo(zone))


class MeetingForm(forms.Form):
    """A meeting's details, in the organisation's local time."""

    organization = OrganizationChoiceField(
        queryset=Organization.objects.none(), label=_("organization")
    )
    kind = forms.ChoiceField(label=_("kind of meeting"), choices=MeetingKind.choices)
    title = forms.CharField(label=_("title"), max_length=128)
    starts_at = forms.DateTimeField(label=_("starts at"), widget=DateTimeInput)
    ends_at = forms.DateTimeField(label=_("ends at"), widget=DateTimeInput)
    mode = forms.ChoiceField(label=_("mode"), choices=MeetingMode.choices)
    place = forms.CharField(label=_("place"), max_length=255, required=False)
    online_link = forms.URLField(
        label=_("online link"), max_length=500, required=False, assume_scheme="https"
    )
    agenda = forms.CharField(
        label=_("agenda"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, scope: Scope, meeting: Meeting | None = None, **kw):
        super().__init__(*args, **kw)
        self.meeting = meeting
        if meeting is None:
            self.fields["organization"].queryset = _holding_organizations(scope)
            return
        # The organisation of a planned meeting does not change: its
        # invitations were made from its roster.
        del self.fields["organization"]
        zone = meeting.organization.time_zone
        self.initial = {
            "kind": meeting.kind,
            "title": meeting.title,
            "starts_at": _local_wall_time(meeting.starts_at, zone),
            "ends_at": _local_wall_time(meeting.ends_at, zone),
            "mode": meeting.mode,
            "place": meeting.place,
            "online_link": meeting.online_link,
            "agenda": meeting.agenda,
            **self.initial,
        }


def meeting_details(data: dict, organization: Organization) -> services.MeetingDetails:
    """The service's details from a cleaned MeetingForm."""
    zone = organization.time_zone
    return services.MeetingDetails(
        kind=data["kind"],
        title=data["title"],
        starts_at=_in_zone(data["starts_at"], zone),
        ends_at=_in_zone(data["ends_at"], zone),
        mode=data["mode"],
        place=data["place"],
        online_link=data["online_link"],
        agenda=data["agenda"],
    )


class SeriesForm(forms.Form):
    """A meeting held every month on a fixed day."""

    organization = OrganizationChoiceField(
        queryset=Organization.objects.none(), label=_("organization")
    )
    kind = forms.ChoiceField(label=_("kind of meeting"), choices=MeetingKind.choices)
    title = forms.CharField(label=_("title"), max_length=128)
    day_of_month = forms.IntegerField(
        label=_("day of the month"),
        min_value=1,
        max_value=31,
        help_text=_("A day past the month's end means its last day."),
    )
    start_time = forms.TimeField(
        label=_("starts at (local time)"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label=_("duration in minutes"), min_value=1, max_value=24 * 60
    )
    first_month = MonthField(label=_("first month"))
    last_month = MonthField(label=_("last month"), required=False)
    mode = forms.ChoiceField(label=_("mode"), choices=MeetingMode.choices)
    place = forms.CharField(label=_("place"), max_length=255, required=False)
    online_link = forms.URLField(
        label=_("online link"), max_length=500, required=False, assume_scheme="https"
    )
    agenda = forms.CharField(
        label=_("agenda"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, scope: Scope, series: MeetingSeries | None = None, **kw):
        super().__init__(*args, **kw)
        if series is None:
            self.fields["organization"].queryset = _holding_organizations(scope)
            return
        del self.fields["organization"]
        names = [name for name in self.fields]
        self.initial = {
            **{name: getattr(series, name) for name in names},
            **self.initial,
        }


def series_details(data: dict) -> services.SeriesDetails:
    """The service's details from a cleaned SeriesForm."""
    return services.SeriesDetails(
        **{k: v for k, v in data.items() if k != "organization"}
    )


class MinutesForm(forms.Form):
    # django-prose-editor gives a small ProseMirror editor whose output is
    # only these tags; the service cleans the HTML again (nh3) whatever a
    # client posts.
    # TODO: when the Content Security Policy of issue 10 arrives, the
    # editor's inline import map needs the request's nonce.
    minutes = ProseEditorFormField(
        label=_("minutes"),
        required=False,
        extensions={
            "Bold": True,
            "Italic": True,
            "Underline": True,
            "Heading": {"levels": [3, 4]},
            "BulletList": True,
            "OrderedList": True,
            "ListItem": True,
            "Blockquote": True,
            "Table": True,
            "TableRow": True,
            "TableHeader": True,
            "TableCell": True,
            "HardBreak": True,
            "History": True,
        },
        widget=AdminProseEditorWidget,
        help_text=_(
            "Paragraphs, headings, lists, bold, italic and tables are kept; "
            "links, images and scripts are removed."
        ),
    )


class InviteForm(forms.Form):
    members = forms.ModelMultipleChoiceField(
        label=_("members to invite"),
        queryset=Member.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Members the organisation holds or hosts who are not invited yet."),
    )

    def __init__(self, *args, meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = selectors.invitable_members(meeting)


class AttachmentForm(forms.Form):
    # Any name and type the browser says; the service checks the content.
    file = forms.FileField(
        label=_("file"),
        help_text=_("A PDF, image, Word, Excel or PowerPoint file of up to 20 MB."),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class ResolutionForm(forms.Form):
    subject = forms.ChoiceField(label=_("subject"), choices=Resolution.Subject.choices)
    member = forms.ModelChoiceField(
        label=_("concerning member"), queryset=Member.objects.none(), required=False
    )
    text = forms.CharField(
        label=_("resolution"), widget=forms.Textarea(attrs={"rows": 4})
    )
    ayes = forms.IntegerField(label=_("ayes"), min_value=0)
    nays = forms.IntegerField(label=_("nays"), min_value=0)
    abstentions = forms.IntegerField(label=_("abstentions"), min_value=0)
    declared_passed = forms.BooleanField(
        label=_("The meeting declared the resolution passed"),
        required=False,
        help_text=_(
            "The outcome follows from the counts; a pass the rules deny is refused."
        ),
    )

    def __init__(self, *args, meeting: Meeting, **kwargs):
        super().__init__(*args, **kwargs)
        held = members_held_on(organization=meeting.organization, on=meeting.held_on)
        self.fields["member"].queryset = (
            Member.objects.filter(
                Q(pk__in=held.values("pk")) | Q(attendances__meeting=meeting)
            )
            .distinct()
            .order_by("name", "pk")
        )


class ComplianceForm(forms.Form):
    organization = OrganizationChoiceField(
        queryset=Organization.objects.none(), label=_("organization")
    )
    year = forms.IntegerField(label=_("year"), min_value=2000, max_value=2100)

    def __init__(self, *args, scope: Scope, **kwargs):
        super().__init__(*args, **kwargs)
        # TODO: offer an autocomplete instead of the whole tree; a province
        # has thousands of organisations, the demo data hundreds.
        self.fields["organization"].queryset = organizations_in_scope(scope).order_by(
            "path"
        )
