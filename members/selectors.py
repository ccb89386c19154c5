"""Reads of members, always through the actor's scope."""

import datetime
import enum

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import (
    Case,
    Count,
    Exists,
    Expression,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Greatest

from members.crypto import blind_index
from members.identity import IdentityError, parse_id_number, parse_phone
from members.models import (
    ACTIVE_MOBILITY_STATUSES,
    ContactLog,
    Member,
    MembershipPeriod,
    Mobility,
    MobilityStatus,
    NeedsSurvey,
    SurveyAnswer,
    YearlyReport,
)
from organizations.models import Organization, Region
from organizations.scope import OutOfScope, Scope, subtree_q, today


class Access(enum.IntEnum):
    """How much of a member's record an actor may see."""

    NONE = 0
    # Dual management (DESIGN.md §2): an inflow organisation sees a member
    # placed with it, without income or dues history.
    PLACED = 1
    OWN = 2
    FULL = 3


def periods_on(day: datetime.date) -> QuerySet[MembershipPeriod]:
    return MembershipPeriod.objects.filter(period__contains=day)


def _held_in(paths: tuple[str, ...], day: datetime.date) -> QuerySet[MembershipPeriod]:
    return periods_on(day).filter(subtree_q(paths, field_name="organization__path"))


def placements_on(day: datetime.date) -> QuerySet[Mobility]:
    """Mobility records placing a member with an inflow body on ``day``."""
    # Placement runs from the inflow organisation's acceptance up to the
    # day before the stay ends; reading it by date, like the membership
    # periods, makes access change the day the member returns.
    return Mobility.objects.filter(reported_on__lte=day).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=day)
    )


def _placed_in(paths: tuple[str, ...], day: datetime.date) -> QuerySet[Member]:
    # Dual management (DESIGN.md §2): an inflow organisation sees the
    # members placed with it, while the outflow one keeps the relationship.
    placed = placements_on(day).filter(
        subtree_q(paths, field_name="inflow_organization__path")
    )
    return Member.objects.filter(pk__in=placed.values("member_id"))


def with_current_organization(
    members: QuerySet[Member], *, on: datetime.date | None = None
) -> QuerySet[Member]:
    """Annotate each member with the organisation holding them on ``on``."""
    current = periods_on(on or today()).filter(member=OuterRef("pk"))
    return members.annotate(
        current_organization_id=Subquery(current.values("organization_id")[:1]),
        current_organization_name=Subquery(current.values("organization__name")[:1]),
        current_organization_code=Subquery(current.values("organization__code")[:1]),
    )


def member_list(
    *, scope: Scope, on: datetime.date | None = None, write: bool = False
) -> QuerySet[Member]:
    """Members the scope reaches on ``on``: held there, or placed there.

    With ``write``, only members whose relationship the scope may change.
    """
    day = on or today()
    members = Member.objects.select_related("ethnicity", "education", "occupation")
    if scope.is_operator:
        return with_current_organization(members, on=day)

    paths = scope.write_paths if write else scope.read_paths
    held = Exists(_held_in(paths, day).filter(member=OuterRef("pk")))
    reachable = members.filter(held)
    if not write:
        reachable = reachable | members.filter(
            pk__in=_placed_in(paths, day).values("pk")
        )
    return with_current_organization(reachable, on=day)


def member_access(
    *, scope: Scope, member: Member, on: datetime.date | None = None
) -> Access:
    """How much of ``member`` the scope may see today."""
    day = on or today()
    if scope.is_operator:
        return Access.FULL
    if _held_in(scope.read_paths, day).filter(member=member).exists():
        return Access.FULL
    if _placed_in(scope.read_paths, day).filter(pk=member.pk).exists():
        return Access.PLACED
    if scope.user_id is not None and member.user_id == scope.user_id:
        return Access.OWN
    return Access.NONE


def member_get(*, scope: Scope, member_id: int) -> Member:
    """One member the scope may see, or OutOfScope (answered as 404)."""
    member = with_current_organization(Member.objects.filter(pk=member_id)).first()
    if member is None or member_access(scope=scope, member=member) is Access.NONE:
        raise OutOfScope()
    return member


def member_own(*, user) -> Member | None:
    """The member record linked to a login account, if any."""
    if not user.is_authenticated:
        return None
    members = Member.objects.filter(user=user).select_related(
        "ethnicity", "education", "occupation", "hukou_region", "residence_region"
    )
    return with_current_organization(members).first()


def current_organization(
    member: Member, *, on: datetime.date | None = None
) -> Organization | None:
    period = (
        periods_on(on or today()).filter(member=member).select_related("organization")
    )
    first = period.first()
    return first.organization if first else None


def membership_history(member: Member) -> QuerySet[MembershipPeriod]:
    return member.membership_periods.select_related("organization").order_by("-period")


def search(members: QuerySet[Member], term: str) -> QuerySet[Member]:
    """Filter by name, or exactly by ID number or phone (blind index)."""
    term = term.strip()
    if not term:
        return members
    try:
        return members.filter(id_number_hash=blind_index(parse_id_number(term).value))
    except IdentityError:
        pass
    try:
        return members.filter(phone_hash=blind_index(parse_phone(term)))
    except IdentityError:
        return members.filter(name__icontains=term)


# Reads of who an organisation holds on a day, mobility, contact and surveys
# (issue 4).


def members_held_on(
    *, organization: Organization, on: datetime.date
) -> QuerySet[Member]:
    """Members whose relationship ``organization`` itself holds on ``on``."""
    # Reports for a past month ask this with that month's days: a member
    # who transferred since still counts where they were (DESIGN.md §3).
    held = periods_on(on).filter(organization=organization)
    return Member.objects.filter(pk__in=held.values("member_id"))


def mobility_list(*, scope: Scope) -> QuerySet[Mobility]:
    """Active mobility records of members whose relationship scope holds."""
    mobilities = Mobility.objects.filter(
        status__in=ACTIVE_MOBILITY_STATUSES
    ).select_related(
        "member", "outflow_organization", "inflow_organization", "destination_region"
    )
    if scope.is_operator:
        return mobilities
    return mobilities.filter(
        subtree_q(scope.read_paths, field_name="outflow_organization__path")
    )


def mobility_get(*, scope: Scope, mobility_id: int) -> Mobility:
    """One mobility record seen from its outflow or inflow side, or 404."""
    mobility = (
        Mobility.objects.select_related(
            "member", "outflow_organization", "inflow_organization"
        )
        .filter(pk=mobility_id)
        .first()
    )
    if mobility is None or not (
        scope.reads(mobility.outflow_organization)
        or (
            mobility.inflow_organization is not None
            and scope.reads(mobility.inflow_organization)
        )
        or (scope.user_id is not None and mobility.member.user_id == scope.user_id)
    ):
        raise OutOfScope()
    return mobility


def mobility_own(*, user) -> Mobility | None:
    """The active mobility record of the member linked to ``user``."""
    if not user.is_authenticated:
        return None
    return (
        Mobility.objects.filter(member__user=user, status__in=ACTIVE_MOBILITY_STATUSES)
        .select_related("inflow_organization", "destination_region")
        .first()
    )


def mobilities_placed_with(
    *, scope: Scope, on: datetime.date | None = None
) -> QuerySet[Mobility]:
    """Members placed with an inflow organisation in the scope on ``on``."""
    placed = placements_on(on or today()).select_related(
        "member", "outflow_organization", "inflow_organization"
    )
    if scope.is_operator:
        return placed
    return placed.filter(
        subtree_q(scope.read_paths, field_name="inflow_organization__path")
    )


def mobilities_awaiting_acceptance(*, scope: Scope) -> QuerySet[Mobility]:
    """Members who reported to an organisation in scope, not yet accepted."""
    waiting = Mobility.objects.filter(
        status=MobilityStatus.REGISTERED,
        inflow_organization__isnull=False,
        reported_on__isnull=True,
    ).select_related("member", "outflow_organization", "inflow_organization")
    if scope.is_operator:
        return waiting
    return waiting.filter(
        subtree_q(scope.read_paths, field_name="inflow_organization__path")
    )


def mobilities_not_reported(
    *, scope: Scope, on: datetime.date | None = None
) -> QuerySet[Mobility]:
    """Members away past the reporting deadline with no inflow organisation."""
    deadline = (on or today()) - datetime.timedelta(
        days=settings.LIUDONG_MOBILITY_REPORT_DUE_DAYS
    )
    return mobility_list(scope=scope).filter(
        reported_on__isnull=True, left_on__lt=deadline
    )


def mobilities_settled(
    *, scope: Scope, on: datetime.date | None = None
) -> QuerySet[Mobility]:
    """Members settled at one place long enough to be prompted to transfer."""
    # A move to a third place starts a new record, so left_on is the day the
    # member arrived where they are now.
    since = (on or today()) - relativedelta(
        months=settings.LIUDONG_MOBILITY_SETTLED_MONTHS
    )
    return mobility_list(scope=scope).filter(left_on__lte=since)


def members_lost_contact(*, scope: Scope) -> QuerySet[Member]:
    """Members in the scope currently marked as lost contact, longest first."""
    return (
        member_list(scope=scope)
        .filter(lost_contact_since__isnull=False)
        .order_by("lost_contact_since", "pk")
    )


def _reached_contact_at() -> Expression:
    reached = ContactLog.objects.filter(
        member=OuterRef("pk"), outcome=ContactLog.Outcome.REACHED
    ).order_by("-contacted_at")
    return Subquery(reached.values("contacted_at")[:1])


def _last_login_at() -> Expression:
    return F("user__last_login")


# Each source gives, per member row, the latest moment the member showed a
# sign of life. Dues payments and meeting attendance join this tuple when
# their apps exist; "last contact" is never typed in (DESIGN.md §3).
LAST_CONTACT_SOURCES = (_reached_contact_at, _last_login_at)


def with_last_contact(members: QuerySet[Member]) -> QuerySet[Member]:
    """Annotate each member with ``last_contact_at`` from every source."""
    sources = [source() for source in LAST_CONTACT_SOURCES]
    # PostgreSQL's GREATEST skips NULLs, so a member never contacted but
    # logged in still gets a date, and one with neither gets NULL.
    latest = sources[0] if len(sources) == 1 else Greatest(*sources)
    return members.annotate(last_contact_at=latest)


def last_contact_at(member: Member) -> datetime.datetime | None:
    """When ``member`` was last reached, by any source."""
    return (
        with_last_contact(Member.objects.filter(pk=member.pk))
        .values_list("last_contact_at", flat=True)
        .first()
    )


def contact_log_list(*, scope: Scope, member: Member) -> QuerySet[ContactLog]:
    """The contact log of a member the scope holds or hosts."""
    if member_access(scope=scope, member=member) in (Access.NONE, Access.OWN):
        raise OutOfScope()
    return member.contact_logs.select_related("contacted_by")


def survey_audience(
    survey: NeedsSurvey, *, on: datetime.date | None = None
) -> QuerySet[Member]:
    """Mobile members held or hosted under the survey's organisation."""
    day = on or today()
    paths = (survey.organization.path,)
    away = Mobility.objects.filter(
        member=OuterRef("pk"), status__in=ACTIVE_MOBILITY_STATUSES
    )
    held = Exists(_held_in(paths, day).filter(member=OuterRef("pk")))
    return Member.objects.filter(
        (held & Exists(away)) | Q(pk__in=_placed_in(paths, day).values("pk"))
    )


def surveys_open_for(*, user, on: datetime.date | None = None) -> QuerySet[NeedsSurvey]:
    """Open surveys the member linked to ``user`` is asked to answer."""
    day = on or today()
    member = Member.objects.filter(user=user).first() if user.is_authenticated else None
    if member is None:
        return NeedsSurvey.objects.none()
    # A survey reaches the members held or hosted anywhere below its
    # organisation: match its path against every ancestor of the member's
    # organisations instead of testing each survey's audience in turn.
    paths: list[str] = []
    if Mobility.objects.filter(
        member=member, status__in=ACTIVE_MOBILITY_STATUSES
    ).exists():
        paths += (
            periods_on(day)
            .filter(member=member)
            .values_list("organization__path", flat=True)
        )
    paths += (
        placements_on(day)
        .filter(member=member)
        .values_list("inflow_organization__path", flat=True)
    )
    step = Organization.steplen
    ancestors = {p[:end] for p in paths for end in range(step, len(p) + 1, step)}
    return NeedsSurvey.objects.filter(
        Q(closes_on__isnull=True) | Q(closes_on__gte=day),
        organization__path__in=ancestors,
    ).select_related("organization")


def survey_answer_list(*, scope: Scope, survey: NeedsSurvey) -> QuerySet[SurveyAnswer]:
    """Individual answers, only of members the scope holds or hosts."""
    # The publishing committee sees the totals (survey_aggregate); a single
    # member's difficulties are for the organisations responsible for them.
    reachable = member_list(scope=scope).values("pk")
    return survey.answers.filter(member__in=reachable).select_related("member")


def survey_aggregate(*, scope: Scope, survey: NeedsSurvey) -> dict:
    """Counts of answers by intention and difficulty for the publisher."""
    if not scope.reads(survey.organization):
        raise OutOfScope()
    answers = survey.answers.all()
    intentions = dict(
        answers.values_list("intention").annotate(n=Count("pk")).order_by()
    )
    difficulties = dict(
        answers.annotate(item=Func(F("difficulties"), function="unnest"))
        .values_list("item")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {
        "audience": survey_audience(survey).count(),
        "answered": answers.count(),
        "intentions": intentions,
        "difficulties": difficulties,
    }


def mobile_members_missing_yearly_report(
    *, scope: Scope, year: int
) -> QuerySet[Member]:
    """Mobile members held in the scope who have not reported for ``year``."""
    away = mobility_list(scope=scope).filter(member=OuterRef("pk"))
    filed = YearlyReport.objects.filter(member=OuterRef("pk"), year=year)
    return Member.objects.filter(Exists(away), ~Exists(filed)).order_by("name", "pk")


def inflow_organizations_for(region: Region) -> QuerySet[Organization]:
    """Organisations a member away in ``region`` may report to.

    The region and the regions below it, mobile-member branches first.
    """
    regions = Q(region=region) | Q(region__parent=region)
    regions |= Q(region__parent__parent=region)
    first = Case(
        When(kind=Organization.Kind.MOBILE_BRANCH, then=Value(0)),
        default=Value(1),
    )
    return (
        Organization.objects.filter(regions)
        .filter(Q(dissolved_on__isnull=True) | Q(dissolved_on__gte=today()))
        .select_related("region")
        .order_by(first, "name", "pk")
    )


def mobilities_in_scope(*, scope: Scope) -> QuerySet[Mobility]:
    """Active stays the scope holds, hosts, or is asked to accept."""
    mobilities = Mobility.objects.select_related(
        "member", "outflow_organization", "inflow_organization", "destination_region"
    )
    if scope.is_operator:
        return mobilities.filter(status__in=ACTIVE_MOBILITY_STATUSES)
    return mobilities.filter(
        Q(pk__in=mobility_list(scope=scope).values("pk"))
        | Q(pk__in=mobilities_placed_with(scope=scope).values("pk"))
        | Q(pk__in=mobilities_awaiting_acceptance(scope=scope).values("pk"))
    )


# The work queues of mobile members, by name, for the admin and the API.
MOBILITY_QUEUES = (
    "out",
    "placed",
    "awaiting",
    "not_reported",
    "settled",
    "no_yearly_report",
)


def mobilities_in_queue(*, scope: Scope, queue: str) -> QuerySet[Mobility]:
    """The stays of one named work queue of the scope."""
    day = today()
    queues = {
        "out": lambda: mobility_list(scope=scope),
        "placed": lambda: mobilities_placed_with(scope=scope, on=day),
        "awaiting": lambda: mobilities_awaiting_acceptance(scope=scope),
        "not_reported": lambda: mobilities_not_reported(scope=scope, on=day),
        "settled": lambda: mobilities_settled(scope=scope, on=day),
        "no_yearly_report": lambda: mobility_list(scope=scope).filter(
            member__in=mobile_members_missing_yearly_report(
                scope=scope, year=day.year
            ).values("pk")
        ),
    }
    if queue not in queues:
        raise ValueError(f"unknown mobility queue: {queue}")
    return queues[queue]()
