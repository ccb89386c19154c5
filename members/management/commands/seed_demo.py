"""Generate the demo province: organisations, members and demo log-ins."""

import resource

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from members import demo
from organizations.models import Region


class Command(BaseCommand):
    help = (
        "Generate a realistic demo province (Hunan) with members, deterministic "
        "for a seed and idempotent. Refused in production."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--members",
            type=int,
            default=demo.DEFAULT_MEMBERS,
            help="How many members to generate (scales to millions).",
        )
        parser.add_argument(
            "--copy",
            action="store_true",
            help=f"Load through COPY even below {demo.COPY_THRESHOLD} members.",
        )
        parser.add_argument(
            "--no-logins", action="store_true", help="Do not create demo log-ins."
        )
        parser.add_argument(
            "--no-dues",
            action="store_true",
            help="Do not generate assessments, ledgers and paid dues "
            "(they take most of the time at a million members).",
        )

    def handle(self, *args, seed, members, copy, no_logins, no_dues, **options):
        if members < 0:
            raise CommandError("--members cannot be negative")
        if connection.vendor != "postgresql":
            raise CommandError("seed_demo needs PostgreSQL")
        if not Region.objects.filter(code=demo.PROVINCE).exists():
            raise CommandError("no regions loaded: run load_code_tables first")

        verbose = options["verbosity"] > 1 or members > demo.CHUNK_SIZE
        try:
            report = demo.seed_demo(
                seed=seed,
                members=members,
                bulk=copy or None,
                logins=not no_logins,
                dues=not no_dues,
                progress=self._progress if verbose else None,
            )
        except demo.DemoRefused as exc:
            raise CommandError(str(exc)) from None

        rate = report.members_created / report.seconds if report.seconds else 0
        self.stdout.write(
            f"demo data: {report.organizations} organisations, "
            f"{report.members_created} of {report.members_total} members created "
            f"in {report.seconds:.1f} s ({rate:,.0f} members/s)"
        )

    def _progress(self, done: int, total: int) -> None:
        # Peak memory so far (Linux reports KiB): it should level off once
        # the first chunks are through, whatever the total.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        self.stdout.write(f"  members {done:,}/{total:,}, peak memory {peak} MiB")
