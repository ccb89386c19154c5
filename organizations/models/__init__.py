"""The organisation tree, administrative regions and the roles users hold."""

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from treebeard.mp_tree import MP_Node

from members.crypto import EncryptedTextField
from members.identity import mask


class Region(models.Model):
    """An administrative division (GB/T 2260): province, city or county."""

    class Level(models.IntegerChoices):
        PROVINCE = 1, _("Province")
        PREFECTURE = 2, _("Prefecture")
        COUNTY = 3, _("County")

    # Region codes are compared in large joins by the nightly jobs; the "C"
    # collation keeps those joins fast (DESIGN.md §6).
    code = models.CharField(max_length=6, primary_key=True, db_collation="C")
    name = models.CharField(_("name"), max_length=64)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"


class Organization(MP_Node):
    """A Party organisation: one node of the tree from province to group."""

    class Kind(models.TextChoices):
        COMMITTEE = "committee", _("Party committee")
        WORKING_COMMITTEE = "working_committee", _("Working committee")
        GENERAL_BRANCH = "general_branch", _("General branch")
        BRANCH = "branch", _("Branch")
        JOINT_BRANCH = "joint_branch", _("Joint branch")
        MOBILE_BRANCH = "mobile_branch", _("Mobile-member branch")
        GROUP = "group", _("Party group")

    # The materialised path is compared with LIKE 'prefix%' for every subtree
    # query; under the "C" collation the unique btree index serves that
    # prefix match directly, so a subtree costs one index range scan.
    path = models.CharField(max_length=255, unique=True, db_collation="C")
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        related_name="organizations",
        verbose_name=_("region"),
    )
    founded_on = models.DateField(_("founded on"), null=True, blank=True)
    dissolved_on = models.DateField(_("dissolved on"), null=True, blank=True)
    may_approve_probationary = models.BooleanField(
        _("may approve probationary members"), default=False
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("office phone"), max_length=32, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        constraints = [
            models.CheckConstraint(
                condition=Q(dissolved_on__isnull=True)
                | Q(founded_on__isnull=True)
                | Q(dissolved_on__gte=models.F("founded_on")),
                name="organization_dissolved_after_founded",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_active_on(self, day: datetime.date) -> bool:
        return self.dissolved_on is None or self.dissolved_on >= day


class RoleQuerySet(models.QuerySet):
    def active_on(self, day: datetime.date) -> "RoleQuerySet":
        # ends_on is the last day the role holds: the day after, it grants
        # nothing (DESIGN.md §3).
        return self.filter(starts_on__lte=day).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=day)
        )


class Role(models.Model):
    """A user's role over an organisation and everything below it."""

    class Kind(models.TextChoices):
        SECRETARY = "secretary", _("Branch secretary")
        ORGANISER = "organiser", _("Organising committee member")
        COMMITTEE_STAFF = "committee_staff", _("Committee staff")
        PROVINCIAL_VIEWER = "provincial_viewer", _("Provincial viewer")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="roles",
        verbose_name=_("user"),
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="roles",
        verbose_name=_("organization"),
    )
    kind = models.CharField(_("role"), max_length=24, choices=Kind.choices)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)

    objects = RoleQuerySet.as_manager()

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        indexes = [models.Index(fields=["user", "starts_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True)
                | Q(ends_on__gte=models.F("starts_on")),
                name="role_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.organization}"

    @property
    def is_read_only(self) -> bool:
        return self.kind == self.Kind.PROVINCIAL_VIEWER


def transfer_scan_path(instance: "Transfer", filename: str) -> str:
    """Name a letter scan on the server, keeping only its checked type."""
    # The uploader's file name may carry personal data or path tricks; the
    # service has already replaced it with "letter.<checked type>".
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"transfers/letters/{uuid.uuid4().hex}.{suffix}"


class TransferState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", _("Issued")
    ACCEPTED = "accepted", _("Accepted")
    REPORTED = "reported", _("Reported")
    RECEIPT_RETURNED = "receipt_returned", _("Receipt returned")
    # "Returned" is also a mobility status (back home); the letter sense is
    # different in Chinese (退回), hence the context.
    RETURNED = "returned", pgettext_lazy("transfer state", "Returned")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")
    REISSUED = "reissued", _("Reissued")


# A member has at most one transfer in these states (DESIGN.md §3). A
# reported transfer has already moved the membership, so it is not open.
OPEN_TRANSFER_STATES = (
    TransferState.DRAFT,
    TransferState.ISSUED,
    TransferState.ACCEPTED,
)
COMPLETED_TRANSFER_STATES = (TransferState.REPORTED, TransferState.RECEIPT_RETURNED)
# The legal ceiling on a letter's validity; the settings may lower it.
TRANSFER_VALIDITY_CEILING_DAYS = 90


class Transfer(models.Model):
    """A relationship transfer (组织关系转接): one letter and its path."""

    State = TransferState

    number = models.CharField(_("number"), max_length=20, unique=True)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.DRAFT
    )
    # Empty only for a letter from outside the system whose member is not
    # yet known here; the member record is created at 报到.
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers",
        verbose_name=_("member"),
    )
    from_organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_out",
        verbose_name=_("from organization"),
    )
    from_external = models.CharField(
        _("from (outside the system)"), max_length=255, blank=True
    )
    to_organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_in",
        verbose_name=_("to organization"),
    )
    to_external = models.CharField(
        _("to (outside the system)"), max_length=255, blank=True
    )
    placed_in = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_placed",
        verbose_name=_("placed in"),
    )

    # The letter as printed: a snapshot taken at issue, so a later edit of
    # the member's record does not change a letter already handed out.
    name = models.CharField(pgettext_lazy("person", "name"), max_length=64)
    gender = models.CharField(_("gender"), max_length=8)
    age = models.PositiveSmallIntegerField(_("age"), null=True, blank=True)
    ethnicity = models.ForeignKey(
        "members.Ethnicity",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ethnicity"),
    )
    is_probationary = models.BooleanField(_("probationary member"), default=False)
    id_number = EncryptedTextField(_("ID number"), purpose="transfer.id_number")
    # Only letters from outside the system need it: it is required to create
    # the member record at 报到.
    joined_on = models.DateField(_("joined the Party on"), null=True, blank=True)
    dues_paid_through = models.DateField(
        _("dues paid through (month)"), null=True, blank=True
    )
    validity_days = models.PositiveSmallIntegerField(_("validity in days"))
    issuer_address = models.CharField(_("issuer address"), max_length=255, blank=True)
    issuer_phone = models.CharField(_("issuer phone"), max_length=32, blank=True)
    note = models.TextField(_("note"), blank=True)
    verification_code = models.CharField(
        _("verification code"), max_length=16, blank=True
    )
    external_number = models.CharField(
        _("number on the external letter"), max_length=64, blank=True
    )
    letter_scan = models.FileField(
        _("scan of the letter"), upload_to=transfer_scan_path, blank=True
    )

    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    # The last day the letter may be accepted.
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    accepted_on = models.DateField(_("accepted on"), null=True, blank=True)
    reported_on = models.DateField(_("reported on"), null=True, blank=True)
    # The first day at the receiving organisation; may be in the future.
    effective_on = models.DateField(_("effective on"), null=True, blank=True)
    receipt_returned_on = models.DateField(
        _("receipt returned on"), null=True, blank=True
    )
    reissue_of = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reissued_as",
        verbose_name=_("reissue of"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The nightly expiry and receipt checks scan only these rows.
            models.Index(
                fields=["valid_until"],
                condition=Q(state="issued"),
                name="transfer_issued_valid_until",
            ),
            models.Index(
                fields=["reported_on"],
                condition=Q(state="reported"),
                name="transfer_reported_on",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(state__in=["draft", "issued", "accepted"]),
                name="transfer_one_open_per_member",
            ),
            models.CheckConstraint(
                condition=(Q(from_organization__isnull=False) & Q(from_external=""))
                | (Q(from_organization__isnull=True) & ~Q(from_external="")),
                name="transfer_one_origin",
            ),
            models.CheckConstraint(
                condition=(Q(to_organization__isnull=False) & Q(to_external=""))
                | (Q(to_organization__isnull=True) & ~Q(to_external="")),
                name="transfer_one_destination",
            ),
            models.CheckConstraint(
                condition=Q(from_organization__isnull=False)
                | Q(to_organization__isnull=False),
                name="transfer_touches_the_system",
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=False) | ~Q(from_external=""),
                name="transfer_member_unless_incoming",
            ),
            models.CheckConstraint(
                condition=Q(validity_days__gte=1)
                & Q(validity_days__lte=TRANSFER_VALIDITY_CEILING_DAYS),
                name="transfer_validity_days_range",
            ),
            models.CheckConstraint(
                condition=Q(dues_paid_through__isnull=True)
                | Q(dues_paid_through__day=1),
                name="transfer_dues_month_first_day",
            ),
            # A draft withdrawn before issue never had a validity.
            models.CheckConstraint(
                condition=Q(state__in=["draft", "withdrawn"])
                | (Q(issued_on__isnull=False) & Q(valid_until__isnull=False)),
                name="transfer_issued_has_validity",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["reported", "receipt_returned"])
                | (
                    Q(member__isnull=False)
                    & Q(reported_on__isnull=False)
                    & Q(effective_on__isnull=False)
                ),
                name="transfer_completed_has_move",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_TRANSFER_STATES

    @property
    def masked_id_number(self) -> str:
        return mask(self.id_number)


class TransferEvent(models.Model):
    """One step of a transfer: who moved it from which state to which, why."""

    transfer = models.ForeignKey(
        Transfer,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("transfer"),
    )
    # Empty for the nightly jobs.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    from_state = models.CharField(
        _("from state"), max_length=20, choices=TransferState.choices, blank=True
    )
    to_state = models.CharField(
        _("to state"), max_length=20, choices=TransferState.choices
    )
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("transfer event")
        verbose_name_plural = _("transfer events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.transfer_id}: {self.from_state or '-'} -> {self.to_state}"


class TransferSequence(models.Model):
    """The last letter number handed out in a year."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("transfer number sequence")
        verbose_name_plural = _("transfer number sequences")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


# Organisational life (issue 6) lives in its own module; importing it here
# registers its models with the organizations app.
from organizations.models.meetings import (  # noqa: E402
    Attendance,
    AttendanceChange,
    AttendanceInterval,
    CheckInMethod,
    Meeting,
    MeetingAttachment,
    MeetingKind,
    MeetingMode,
    MeetingSeries,
    Resolution,
    ResolutionVoter,
    Standing,
)

__all__ = [
    "Attendance",
    "AttendanceChange",
    "AttendanceInterval",
    "CheckInMethod",
    "Meeting",
    "MeetingAttachment",
    "MeetingKind",
    "MeetingMode",
    "MeetingSeries",
    "Region",
    "Organization",
    "Role",
    "Resolution",
    "ResolutionVoter",
    "Standing",
    "Transfer",
    "TransferEvent",
    "TransferSequence",
    "TransferState",
]
