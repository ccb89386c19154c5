"""Accounts, members, their code tables, membership history and audit."""

import datetime

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateRangeField, RangeOperators
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.crypto import EncryptedTextField
from members.identity import mask


class User(AbstractUser):
    """A login account; a member's account is linked from Member.user."""

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


class CodeTable(models.Model):
    """A national code table row: a code and its official name."""

    code = models.CharField(_("code"), max_length=8, primary_key=True)
    name = models.CharField(_("name"), max_length=64)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Ethnicity(CodeTable):
    """An ethnic group (GB 3304-1991 code)."""

    class Meta(CodeTable.Meta):
        verbose_name = _("ethnicity")
        verbose_name_plural = _("ethnicities")


class Education(CodeTable):
    """An education level (GB/T 4658-2006 code)."""

    class Meta(CodeTable.Meta):
        verbose_name = _("education")
        verbose_name_plural = _("education levels")


class Industry(CodeTable):
    """An industry section or division (GB/T 4754-2017)."""

    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )

    class Meta(CodeTable.Meta):
        verbose_name = _("industry")
        verbose_name_plural = _("industries")


class Occupation(CodeTable):
    """An occupation; flags the new-employment groups (riders, drivers)."""

    is_new_employment = models.BooleanField(_("new employment form"), default=False)

    class Meta(CodeTable.Meta):
        verbose_name = _("occupation")
        verbose_name_plural = _("occupations")


class Member(models.Model):
    """A Party member's record; MembershipPeriod says who holds it."""

    class Gender(models.TextChoices):
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    class Status(models.TextChoices):
        PROBATIONARY = "probationary", _("Probationary member")
        FULL = "full", _("Full member")
        SUSPENDED = "suspended", _("Membership suspended")
        DECEASED = "deceased", _("Deceased")
        REMOVED = "removed", _("Removed")
        TRANSFERRED_OUT = "transferred_out", _("Transferred out of the system")

    user = models.OneToOneField(
        "members.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="member",
        verbose_name=_("login account"),
    )
    # A person's name (姓名), unlike the name of a thing (名称).
    name = models.CharField(pgettext_lazy("person", "name"), max_length=64)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices)
    ethnicity = models.ForeignKey(
        Ethnicity,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("ethnicity"),
    )
    birth_date = models.DateField(_("birth date"))
    id_number = EncryptedTextField(_("ID number"), purpose="member.id_number")
    # HMAC of the normalised ID number: exact look-up and matching against
    # external registries without decrypting (DESIGN.md §3).
    id_number_hash = models.BinaryField(unique=True, editable=False)
    phone = EncryptedTextField(_("phone"), purpose="member.phone", blank=True)
    phone_hash = models.BinaryField(null=True, editable=False, db_index=True)
    education = models.ForeignKey(
        Education,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("education"),
    )
    joined_on = models.DateField(_("joined the Party on"))
    full_member_on = models.DateField(_("full member since"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.FULL
    )
    hukou_region = models.ForeignKey(
        "organizations.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("household registration region"),
    )
    hukou_address = models.CharField(
        _("household registration address"), max_length=255, blank=True
    )
    residence_region = models.ForeignKey(
        "organizations.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("residence region"),
    )
    residence_address = models.CharField(
        _("residence address"), max_length=255, blank=True
    )
    work_unit = models.CharField(_("work unit"), max_length=128, blank=True)
    occupation = models.ForeignKey(
        Occupation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("occupation"),
    )
    is_migrant_worker = models.BooleanField(_("migrant worker"), default=False)
    file_custodian = models.CharField(
        _("personnel-file custodian"), max_length=128, blank=True
    )
    lost_contact_since = models.DateField(
        _("lost contact since"), null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            # Name search is a substring match (icontains upper-cases both
            # sides); a trigram index keeps it fast at millions of rows.
            GinIndex(
                OpClass(Upper("name"), name="gin_trgm_ops"), name="member_name_trgm"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(full_member_on__isnull=True)
                | Q(full_member_on__gte=models.F("joined_on")),
                name="member_full_after_joined",
            ),
            models.CheckConstraint(
                condition=Q(joined_on__gt=models.F("birth_date")),
                name="member_joined_after_birth",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_id_number(self) -> str:
        return mask(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask(self.phone)


class MembershipPeriod(models.Model):
    """The days a member's relationship is held by one organisation."""

    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="membership_periods",
        verbose_name=_("member"),
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="membership_periods",
        verbose_name=_("organization"),
    )
    # Closed-open [start, end): end is the first day at the next
    # organisation, which keeps consecutive periods adjacent, never
    # overlapping, and makes "ends the day before" a matter of bounds.
    period = DateRangeField(_("period"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership period")
        verbose_name_plural = _("membership periods")
        constraints = [
            # The database itself guarantees one organisation per member per
            # day (DESIGN.md §3); btree_gist supplies "=" on member_id.
            ExclusionConstraint(
                name="membership_period_no_overlap",
                expressions=[
                    ("member", RangeOperators.EQUAL),
                    ("period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(period__isempty=False)
                & Q(period__startswith__isnull=False),
                name="membership_period_has_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} @ {self.organization_id} {self.period}"

    @property
    def starts_on(self) -> datetime.date:
        return self.period.lower

    @property
    def last_day(self) -> datetime.date | None:
        upper = self.period.upper
        return None if upper is None else upper - datetime.timedelta(days=1)


class CorrectionRequest(models.Model):
    """A member's request to correct a field of their own record."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="correction_requests",
        verbose_name=_("member"),
    )
    field = models.CharField(_("field"), max_length=32)
    # The requested value may be personal data (a phone), so it is sealed
    # like the record it corrects.
    requested_value = EncryptedTextField(
        _("requested value"), purpose="correction.requested_value"
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    requested_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("correction request")
        verbose_name_plural = _("correction requests")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending")
                | (Q(decided_by__isnull=False) & Q(decided_at__isnull=False)),
                name="correction_decided_has_decider",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.field} ({self.status})"


class AuditEvent(models.Model):
    """One recorded action on personal data: who did what to which record."""

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=48)
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        verbose_name=_("member"),
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        verbose_name=_("organization"),
    )
    # Field names and ids only: never the personal values themselves.
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class MobilityStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    REPORTED = "reported", _("Reported to the inflow organization")
    LOST_CONTACT = "lost_contact", _("Lost contact")
    RETURNED = "returned", _("Returned")
    # Two ends DESIGN.md's list leaves implicit: the member moved on to a
    # third place (a new record follows), or the stay became a transfer.
    MOVED_ON = "moved_on", _("Moved on")
    TRANSFERRED = "transferred", _("Relationship transferred")


ACTIVE_MOBILITY_STATUSES = (
    MobilityStatus.REGISTERED,
    MobilityStatus.REPORTED,
    MobilityStatus.LOST_CONTACT,
)


class Mobility(models.Model):
    """A member away from the organisation holding their relationship."""

    Status = MobilityStatus

    class Reason(models.TextChoices):
        WORK = "work", _("Work or business")
        STUDY = "study", _("Study")
        FAMILY = "family", _("Family")
        HEALTH = "health", _("Medical care")
        OTHER = "other", _("Other")

    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="mobilities",
        verbose_name=_("member"),
    )
    outflow_organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="mobilities_out",
        verbose_name=_("outflow organization"),
    )
    destination_region = models.ForeignKey(
        "organizations.Region",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("destination region"),
    )
    # Chosen by the member when reporting; placement starts only once the
    # inflow organisation accepts (reported_on).
    inflow_organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mobilities_in",
        verbose_name=_("inflow organization"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.REGISTERED
    )
    left_on = models.DateField(_("left on"))
    expected_return_on = models.DateField(_("expected return"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    occupation = models.ForeignKey(
        Occupation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("occupation there"),
    )
    work_unit = models.CharField(_("work unit there"), max_length=128, blank=True)
    # Where and how to reach the member there: personal data, sealed.
    contact = EncryptedTextField(_("contact there"), purpose="mobility.contact")
    certificate_number = models.CharField(
        _("mobile activity certificate number"), max_length=32, blank=True
    )
    certificate_issued_on = models.DateField(
        _("certificate issued on"), null=True, blank=True
    )
    registered_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("registered by"),
    )
    confirmed_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    confirmed_on = models.DateField(_("confirmed on"), null=True, blank=True)
    report_requested_on = models.DateField(
        _("reported to inflow organization on"), null=True, blank=True
    )
    reported_on = models.DateField(_("accepted by inflow on"), null=True, blank=True)
    # The first day the member is no longer away: placement ends the day
    # before, like a MembershipPeriod's upper bound.
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    previous = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="next",
        verbose_name=_("previous stay"),
    )
    transfer = models.ForeignKey(
        "organizations.Transfer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mobilities",
        verbose_name=_("transfer"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("mobility")
        verbose_name_plural = _("mobilities")
        ordering = ["-left_on", "-id"]
        indexes = [models.Index(fields=["inflow_organization", "reported_on"])]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(status__in=["registered", "reported", "lost_contact"]),
                name="mobility_one_active_per_member",
            ),
            models.CheckConstraint(
                condition=Q(reported_on__isnull=True)
                | Q(inflow_organization__isnull=False),
                name="mobility_reported_has_inflow",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True)
                | Q(ended_on__gte=models.F("left_on")),
                name="mobility_ends_after_leaving",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["registered", "reported", "lost_contact"])
                | Q(ended_on__isnull=False),
                name="mobility_ended_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} -> {self.destination_region_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_MOBILITY_STATUSES


class ContactLog(models.Model):
    """One attempt by a secretary to reach a member, and how it went."""

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        WECHAT = "wechat", _("WeChat")
        VISIT = "visit", _("Visit")
        ONLINE_MEETING = "online_meeting", _("Online meeting")

    class Outcome(models.TextChoices):
        REACHED = "reached", _("Reached")
        NO_ANSWER = "no_answer", _("No answer")
        UNREACHABLE = "unreachable", _("Number or address no longer valid")

    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="contact_logs",
        verbose_name=_("member"),
    )
    contacted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("contacted by")
    )
    contacted_at = models.DateTimeField(_("contacted at"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contact log entry")
        verbose_name_plural = _("contact log")
        ordering = ["-contacted_at", "-id"]
        indexes = [models.Index(fields=["member", "outcome", "contacted_at"])]

    def __str__(self) -> str:
        return f"{self.member_id} {self.contacted_at:%Y-%m-%d} {self.outcome}"


class LostContact(models.Model):
    """A stretch of time in which a member could not be reached (失联)."""

    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="lost_contacts",
        verbose_name=_("member"),
    )
    # The first failed attempt after the last successful contact: the date
    # the lapse rules count from (DESIGN.md §3).
    since = models.DateField(_("lost contact since"))
    marked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("marked by")
    )
    marked_at = models.DateTimeField(_("marked at"), auto_now_add=True)
    note = models.TextField(_("note"), blank=True)
    found_on = models.DateField(_("found on"), null=True, blank=True)
    found_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("found by"),
    )
    found_note = models.TextField(_("how the member was found"), blank=True)

    class Meta:
        verbose_name = _("lost contact")
        verbose_name_plural = _("lost contacts")
        ordering = ["-since", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(found_on__isnull=True),
                name="lost_contact_one_open_per_member",
            ),
            models.CheckConstraint(
                condition=Q(found_on__isnull=True) | Q(found_on__gte=models.F("since")),
                name="lost_contact_found_after_lost",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} lost since {self.since}"


class Intention(models.TextChoices):
    STAY = "stay", _("Stay where I am")
    RETURN = "return", _("Return home")
    MOVE_ON = "move_on", _("Move on elsewhere")


class Difficulty(models.TextChoices):
    WORK = "work", _("Work")
    HOUSING = "housing", _("Housing")
    SOCIAL_INSURANCE = "social_insurance", _("Social insurance")
    SCHOOLING = "schooling", _("Children's schooling")
    HEALTH = "health", _("Health")
    STUDY = "study", _("Study")


class NeedsSurvey(models.Model):
    """A needs survey (动态、意向、困难) for the mobile members of a scope."""

    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="needs_surveys",
        verbose_name=_("published by"),
    )
    title = models.CharField(_("title"), max_length=128)
    published_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("published by")
    )
    published_at = models.DateTimeField(_("published at"), auto_now_add=True)
    closes_on = models.DateField(_("closes on"), null=True, blank=True)

    class Meta:
        verbose_name = _("needs survey")
        verbose_name_plural = _("needs surveys")
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title


class SurveyAnswer(models.Model):
    """One member's answers to a needs survey; answering again updates it."""

    survey = models.ForeignKey(
        NeedsSurvey,
        on_delete=models.CASCADE,
        related_name="answers",
        verbose_name=_("survey"),
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="survey_answers",
        verbose_name=_("member"),
    )
    situation = models.TextField(_("current situation"), blank=True)
    intention = models.CharField(
        _("intention"), max_length=16, choices=Intention.choices
    )
    difficulties = ArrayField(
        models.CharField(max_length=24, choices=Difficulty.choices),
        default=list,
        blank=True,
        verbose_name=_("difficulties"),
    )
    difficulties_note = models.TextField(_("difficulties in detail"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "member"], name="survey_answer_once_per_member"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}: {self.member_id}"


class YearlyReport(models.Model):
    """The report a mobile member owes the outflow organisation each year."""

    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="yearly_reports",
        verbose_name=_("member"),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="yearly_reports",
        verbose_name=_("outflow organization"),
    )
    mobility = models.ForeignKey(
        Mobility,
        on_delete=models.PROTECT,
        related_name="yearly_reports",
        verbose_name=_("mobility"),
    )
    body = models.TextField(_("report"))
    filed_at = models.DateTimeField(_("filed at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("yearly report")
        verbose_name_plural = _("yearly reports")
        ordering = ["-year", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "year"], name="yearly_report_once_a_year"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.year}"


class RosterImport(models.Model):
    """One uploaded roster file on its way through preview and commit.

    ``step`` says what the job does (check the file, then write it) and
    ``status`` how far that step is. A step is claimed by moving it from
    queued to running with a conditional UPDATE carrying a fresh
    ``claim``, so a step runs once however often its task is delivered.
    """

    class Step(models.TextChoices):
        PREVIEW = "preview", _("Preview")
        COMMIT = "commit", _("Commit")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="roster_imports",
        verbose_name=_("organization"),
    )
    requested_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="roster_imports",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    # The name the file had on the requester's computer, shown back to them;
    # the file itself is stored under ``stored_name``, chosen by the server.
    file_name = models.CharField(_("file"), max_length=255)
    stored_name = models.CharField(max_length=64, unique=True, editable=False)
    file_format = models.CharField(_("format"), max_length=8)
    file_size = models.PositiveBigIntegerField(_("size in bytes"))
    file_deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    all_or_nothing = models.BooleanField(_("all or nothing"), default=False)
    in_background = models.BooleanField(_("runs in the background"), default=False)

    step = models.CharField(
        _("step"), max_length=8, choices=Step.choices, default=Step.PREVIEW
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    claim = models.CharField(max_length=32, blank=True, editable=False)
    # What the running step is doing ("check" or "write") and how far it
    # got; written by the worker, read by the progress bar.
    stage = models.CharField(_("stage"), max_length=8, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    # Counts of the last finished step: no personal data, so lists show
    # them without opening the report.
    rows = models.PositiveIntegerField(_("rows"), default=0)
    valid = models.PositiveIntegerField(_("valid"), default=0)
    imported = models.PositiveIntegerField(_("imported"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    warning_count = models.PositiveIntegerField(_("warnings"), default=0)
    # The row report as JSON. Its values are cells as given, ID numbers and
    # phones among them, so it is encrypted like the member record.
    report = EncryptedTextField(_("report"), purpose="roster_import.report", blank=True)
    failure_code = models.CharField(_("failure code"), max_length=32, blank=True)
    failure_message = models.TextField(_("failure"), blank=True)

    class Meta:
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["requested_by", "requested_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(step__in=["preview", "commit"]),
                name="roster_import_step_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]),
                name="roster_import_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="running") | Q(heartbeat_at__isnull=False),
                name="roster_import_running_has_heartbeat",
            ),
        ]

    def __str__(self) -> str:
        return self.file_name

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def committed(self) -> bool:
        return self.step == self.Step.COMMIT and self.status == self.Status.DONE

    @property
    def refused(self) -> bool:
        """Whether all-or-nothing refuses this file as checked."""
        return self.all_or_nothing and self.error_count > 0
