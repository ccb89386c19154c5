"""Demo data: a realistic Hunan province of Party organisations and members,
with their dues.

Everything is derived from ``seed`` and a row number, so a seed always gives
the same people, and a second run finds them by their ID blind index and adds
nothing. Small runs go through the ORM; large ones stream ``COPY`` in chunks
so that memory stays flat at millions of rows. Demo log-ins are never created
in production.
"""

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from members.demo.dues import seed_dues
from members.demo.learning import seed_learning
from members.demo.logins import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DemoLogin,
    DemoRefused,
    ensure_demo_logins,
    refuse_in_production,
)
from members.demo.meetings import seed_meetings
from members.demo.people import MemberRow, generate_members
from members.demo.store import store_members
from members.demo.tree import (
    CITIES,
    COUNTIES,
    HR_CENTRE,
    HR_CODE,
    PROVINCE,
    ROOT_CODE,
    ensure_organizations,
)

__all__ = [
    "CHUNK_SIZE",
    "CITIES",
    "COPY_THRESHOLD",
    "COUNTIES",
    "DEMO_LOGINS",
    "DEFAULT_MEMBERS",
    "DEMO_PASSWORD",
    "HR_CENTRE",
    "HR_CODE",
    "PROVINCE",
    "ROOT_CODE",
    "DemoLogin",
    "DemoRefused",
    "MemberRow",
    "SeedReport",
    "generate_members",
    "seed_demo",
]

logger = logging.getLogger(__name__)

DEFAULT_MEMBERS = 300
# Above this many members the rows go through COPY instead of the ORM.
COPY_THRESHOLD = 5_000
CHUNK_SIZE = 50_000


@dataclass(frozen=True)
class SeedReport:
    """What a run created, and how long organisations and members took."""

    organizations: int
    members_created: int
    members_total: int
    seconds: float


def seed_demo(
    *,
    seed: int,
    members: int = DEFAULT_MEMBERS,
    today: datetime.date | None = None,
    bulk: bool | None = None,
    logins: bool = True,
    dues: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Generate the demo province with ``members`` members (idempotent)."""
    refuse_in_production()
    today = today or timezone.localdate()
    bulk = members > COPY_THRESHOLD if bulk is None else bulk
    started = time.monotonic()

    org_ids = ensure_organizations(members)
    done = 0

    def handled(rows: int) -> None:
        nonlocal done
        done += rows
        if progress:
            progress(done, members)

    # Each chunk commits on its own: an interrupted run keeps whole chunks,
    # and the next run completes it by skipping the ID numbers it finds.
    created = store_members(
        generate_members(seed=seed, count=members, today=today),
        org_ids,
        bulk=bulk,
        chunk_size=CHUNK_SIZE,
        progress=handled,
    )
    # Log-ins are left out of the timing: password hashing is slow on purpose.
    seconds = time.monotonic() - started
    # Assessments, the ledger and a paid history for members without dues.
    if dues:
        seed_dues(seed=seed, today=today)
    if logins:
        ensure_demo_logins(seed=seed, today=today)
        # Meetings are planned by the demo secretary: they need the log-ins.
        seed_meetings(today=today)
        seed_learning(today=today)

    logger.info(
        "demo members created=%d requested=%d seconds=%.1f", created, members, seconds
    )
    return SeedReport(
        organizations=len(org_ids),
        members_created=created,
        members_total=members,
        seconds=seconds,
    )
