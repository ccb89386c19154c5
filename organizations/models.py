"""The organisation tree, administrative regions and the roles users hold."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node


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
