"""Reads of organisations and of the people who hold roles in them."""

import datetime

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import Q, QuerySet

from organizations.models import (
    COMPLETED_TRANSFER_STATES,
    OPEN_TRANSFER_STATES,
    Organization,
    Region,
    Role,
    Transfer,
    TransferEvent,
    TransferState,
)
from organizations.scope import OutOfScope, Scope, subtree_q, today


def secretaries_of(
    organization: Organization, *, on: datetime.date | None = None
) -> QuerySet[Role]:
    """Secretary roles active on ``on`` at ``organization`` itself.

    Each role comes with its user and, where the user has one, the user's
    member record, so that a name and phone can be shown without more
    queries. The oldest role comes first.
    """
    return (
        Role.objects.active_on(on or today())
        .filter(organization=organization, kind=Role.Kind.SECRETARY)
        .select_related("user", "user__member")
        .order_by("starts_on", "pk")
    )


def region_full_names(*codes: str | None) -> dict[str, str]:
    """Full names of regions from the province down, keyed by code.

    "芙蓉区" alone is ambiguous; "湖南省长沙市芙蓉区" is how an address is
    written. Regions and their ancestors are read in one query.
    """
    found = Region.objects.select_related("parent__parent").filter(
        code__in=[code for code in codes if code]
    )
    names = {}
    for region in found:
        chain: list[str] = []
        node: Region | None = region
        while node is not None:
            chain.append(node.name)
            node = node.parent
        names[region.code] = "".join(reversed(chain))
    return names


# Transfers (issue 4): the queues each side works from.


def _sending_side(paths: tuple[str, ...]) -> Q:
    # A letter registered from outside the system is handled by the
    # organisation that registered it, on both sides.
    return subtree_q(paths, field_name="from_organization__path") | (
        Q(from_organization__isnull=True)
        & subtree_q(paths, field_name="to_organization__path")
    )


def _receiving_side(paths: tuple[str, ...]) -> Q:
    # A letter to outside the system is followed up by its sender.
    return subtree_q(paths, field_name="to_organization__path") | (
        Q(to_organization__isnull=True)
        & subtree_q(paths, field_name="from_organization__path")
    )


def _transfers() -> QuerySet[Transfer]:
    return Transfer.objects.select_related(
        "member", "from_organization", "to_organization", "placed_in"
    )


def transfer_list(*, scope: Scope) -> QuerySet[Transfer]:
    """Transfers the scope reaches from either side."""
    if scope.is_operator:
        return _transfers()
    paths = scope.read_paths
    return _transfers().filter(_sending_side(paths) | _receiving_side(paths))


def transfer_get(*, scope: Scope, transfer_id: int) -> Transfer:
    """One transfer the scope reaches, the member's own included, or 404."""
    transfer = _transfers().filter(pk=transfer_id).first()
    if transfer is None:
        raise OutOfScope()
    own = (
        scope.user_id is not None
        and transfer.member is not None
        and transfer.member.user_id == scope.user_id
    )
    if not own and not transfer_list(scope=scope).filter(pk=transfer.pk).exists():
        raise OutOfScope()
    return transfer


def transfers_own(*, user) -> QuerySet[Transfer]:
    """The transfers of the member linked to ``user``, newest first."""
    if not user.is_authenticated:
        return Transfer.objects.none()
    return _transfers().filter(member__user=user).order_by("-created_at", "-pk")


def transfer_history(transfer: Transfer) -> QuerySet[TransferEvent]:
    """Every step of ``transfer``: who, when, from which state, why."""
    return transfer.events.select_related("actor").order_by("at", "pk")


def transfers_outgoing(*, scope: Scope) -> QuerySet[Transfer]:
    """Open letters the scope's organisations are sending."""
    transfers = _transfers().filter(state__in=OPEN_TRANSFER_STATES)
    if scope.is_operator:
        return transfers
    return transfers.filter(_sending_side(scope.read_paths))


def transfers_incoming(*, scope: Scope) -> QuerySet[Transfer]:
    """Letters waiting for the scope to accept them or record 报到."""
    transfers = _transfers().filter(
        state__in=[TransferState.ISSUED, TransferState.ACCEPTED]
    )
    if scope.is_operator:
        return transfers
    return transfers.filter(_receiving_side(scope.read_paths)).order_by(
        "valid_until", "pk"
    )


def transfers_expiring(
    *, scope: Scope, on: datetime.date | None = None, within_days: int = 7
) -> QuerySet[Transfer]:
    """Issued letters of the sending side whose validity ends soon."""
    day = on or today()
    transfers = _transfers().filter(
        state=TransferState.ISSUED,
        valid_until__gte=day,
        valid_until__lte=day + datetime.timedelta(days=within_days),
    )
    if scope.is_operator:
        return transfers.order_by("valid_until", "pk")
    return transfers.filter(_sending_side(scope.read_paths)).order_by(
        "valid_until", "pk"
    )


def transfers_taking_effect(
    *, scope: Scope, on: datetime.date | None = None
) -> QuerySet[Transfer]:
    """Completed transfers dated in the future: the move is still to come."""
    transfers = _transfers().filter(
        state__in=COMPLETED_TRANSFER_STATES, effective_on__gt=on or today()
    )
    if scope.is_operator:
        return transfers
    paths = scope.read_paths
    return transfers.filter(_sending_side(paths) | _receiving_side(paths))


def transfers_receipt_overdue(
    *, today: datetime.date, scope: Scope | None = None
) -> QuerySet[Transfer]:
    """Transfers whose receipt (回执) is past due, for the receiving side."""
    # Due within LIUDONG_TRANSFER_RECEIPT_DUE_MONTHS of the member's arrival.
    arrived_before = today - relativedelta(
        months=settings.LIUDONG_TRANSFER_RECEIPT_DUE_MONTHS
    )
    transfers = _transfers().filter(
        state=TransferState.REPORTED, reported_on__lt=arrived_before
    )
    if scope is None or scope.is_operator:
        return transfers.order_by("reported_on", "pk")
    return transfers.filter(_receiving_side(scope.read_paths)).order_by(
        "reported_on", "pk"
    )


def transfers_receipt_owed(*, scope: Scope) -> QuerySet[Transfer]:
    """Completed transfers whose receipt (回执) the scope still owes."""
    transfers = _transfers().filter(state=TransferState.REPORTED)
    if scope.is_operator:
        return transfers.order_by("reported_on", "pk")
    return transfers.filter(_receiving_side(scope.read_paths)).order_by(
        "reported_on", "pk"
    )


def transfers_to_reissue(*, scope: Scope) -> QuerySet[Transfer]:
    """Returned or expired letters the scope sent: each waits for a reissue."""
    transfers = _transfers().filter(
        state__in=[TransferState.RETURNED, TransferState.EXPIRED],
        from_organization__isnull=False,
    )
    if scope.is_operator:
        return transfers
    return transfers.filter(
        subtree_q(scope.read_paths, field_name="from_organization__path")
    )


# The work queues of both sides, by name, for the admin and the API.
TRANSFER_QUEUES = (
    "outgoing",
    "drafts",
    "issued",
    "expiring",
    "to_reissue",
    "to_accept",
    "to_report",
    "receipts_owed",
    "receipts_overdue",
    "taking_effect",
)


def transfers_in_queue(*, scope: Scope, queue: str) -> QuerySet[Transfer]:
    """The transfers of one named work queue of the scope."""
    day = today()
    queues = {
        "outgoing": lambda: transfers_outgoing(scope=scope),
        "drafts": lambda: transfers_outgoing(scope=scope).filter(
            state=TransferState.DRAFT
        ),
        "issued": lambda: transfers_outgoing(scope=scope).filter(
            state=TransferState.ISSUED
        ),
        "expiring": lambda: transfers_expiring(scope=scope, on=day),
        "to_reissue": lambda: transfers_to_reissue(scope=scope),
        "to_accept": lambda: transfers_incoming(scope=scope).filter(
            state=TransferState.ISSUED
        ),
        "to_report": lambda: transfers_incoming(scope=scope).filter(
            state=TransferState.ACCEPTED
        ),
        "receipts_owed": lambda: transfers_receipt_owed(scope=scope),
        "receipts_overdue": lambda: transfers_receipt_overdue(today=day, scope=scope),
        "taking_effect": lambda: transfers_taking_effect(scope=scope, on=day),
    }
    if queue not in queues:
        raise ValueError(f"unknown transfer queue: {queue}")
    return queues[queue]()
