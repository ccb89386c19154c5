"""Time the dues ledger generation over every member, and its memory.

Usage::

    .venv/bin/python bench/seed_members.py --members 1000000 \\
        --database liudong_bench_dues --keep --no-record
    .venv/bin/python bench/dues_ledger.py --database liudong_bench_dues \\
        [--through 2026-12-01] [--moved 10000]

Needs a database seeded by ``seed_demo``. The parent empties the dues
tables (the demo's own dues go too), then a child process runs, for the
whole population and through ``--through``'s month:

1. the first generation (every month of every member added);
2. the same generation again (nothing to do: the cost of idempotency);
3. after moving ``--moved`` members to another branch from the first of
   the last month (so that month changes collector), the generation for
   those members only (what the on-commit hook of a transfer does, in
   bulk);
4. the same for one member at a time (the median of 20 runs).

Each phase's wall time and the rows it changed are printed with the child's
peak resident memory and the load average, and added to docs/benchmarks.md.
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time

import environ
from seed_members import DOC, ROOT, _connect, _machine

MARKER = "<!-- bench/dues_ledger.py adds rows above this line -->"

DUES_TABLES = (
    "dues_refund",
    "dues_gatewaynotification",
    "dues_paymentline",
    "dues_ledgerentry",
    "dues_paymentorder",
    "dues_reduction",
    "dues_assessment",
)


def _child(through: str, moved: int) -> None:
    """Run the three phases in this process; print their figures as JSON."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from dues.services.ledger import generate_ledger

    month = datetime.date.fromisoformat(through)
    phases = []
    for name in ("first", "again"):
        started = time.perf_counter()
        result = generate_ledger(through=month)
        phases.append((name, time.perf_counter() - started, result))

    member_ids = _move_members(connection, moved, month)
    started = time.perf_counter()
    result = generate_ledger(through=month, member_ids=member_ids)
    phases.append((f"{len(member_ids)} moved", time.perf_counter() - started, result))

    # One member at a time, as after a single transfer: the median of 20.
    single = []
    for member_id in member_ids[:20]:
        started = time.perf_counter()
        result = generate_ledger(through=month, member_ids=[member_id])
        single.append((time.perf_counter() - started, result))
    seconds, result = sorted(single, key=lambda pair: pair[0])[len(single) // 2]
    phases.append(("1 member (median of 20)", seconds, result))

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dues_ledgerentry")
        entries = cursor.fetchone()[0]
    print(
        json.dumps(
            {
                "entries": entries,
                "phases": [
                    {"phase": n, "seconds": s, **r.__dict__} for n, s, r in phases
                ],
            }
        )
    )


def _move_members(connection, count: int, day: datetime.date) -> list[int]:
    """Move ``count`` members to one branch from ``day`` on."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM organizations_organization WHERE kind = 'branch' "
            "ORDER BY id DESC LIMIT 1"
        )
        target = cursor.fetchone()[0]
        cursor.execute(
            """
            WITH chosen AS (
                SELECT p.id, p.member_id, lower(p.period) AS since
                FROM members_membershipperiod p
                WHERE upper_inf(p.period) AND lower(p.period) < %s
                  AND p.organization_id <> %s
                ORDER BY p.member_id LIMIT %s
            ), ended AS (
                UPDATE members_membershipperiod p
                SET period = daterange(c.since, %s)
                FROM chosen c WHERE p.id = c.id
                RETURNING c.member_id
            )
            INSERT INTO members_membershipperiod
                (member_id, organization_id, period, created_at)
            SELECT e.member_id, %s, daterange(%s, NULL), now() FROM ended e
            RETURNING member_id
            """,
            [day, target, count, day, target, day],
        )
        return [row[0] for row in cursor.fetchall()]


def _empty_dues(cfg: dict, name: str) -> tuple[int, str]:
    conn = _connect(cfg, name)
    with conn.cursor() as cur:
        # Fixed table names from the list above, no user input.
        cur.execute(f"TRUNCATE {', '.join(DUES_TABLES)} CASCADE")  # noqa: S608
        cur.execute("SELECT count(*) FROM members_member")
        members = cur.fetchone()[0]
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0].split()[0]
    conn.close()
    return members, version


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="liudong_bench_dues")
    parser.add_argument("--through", default="2026-12-01")
    parser.add_argument("--moved", type=int, default=10_000)
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="print only; leave docs/benchmarks.md alone",
    )
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/liudong")
    cfg = environ.Env.db_url_config(base)
    env = {
        **os.environ,
        "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + args.database,
        "DJANGO_ENV": "development",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LIUDONG_LOG_LEVEL": "WARNING",
    }
    members, version = _empty_dues(cfg, args.database)

    load = os.getloadavg()[0]
    # Fixed arguments, no shell: this only ever runs this script.
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--child", args.through, str(args.moved)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    output, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit("the ledger generation failed")
    figures = json.loads(output.decode().strip().splitlines()[-1])
    peak_mib = _peak_mib()

    for phase in figures["phases"]:
        row = (
            f"| {datetime.datetime.now(datetime.UTC).date()} | {_machine(version)} "
            f"| {members:,} members through {args.through[:7]} | {phase['phase']} "
            f"| {phase['seconds']:,.3f} s | +{phase['added']:,} "
            f"~{phase['repriced']:,} >{phase['moved']:,} -{phase['cancelled']:,} "
            f"| {figures['entries']:,} | {peak_mib:,} MiB | {load:.1f} |"
        )
        print(row)
        if not args.no_record:
            _record(row)


def _record(row: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    if MARKER not in text:
        raise SystemExit(f"{DOC} lacks the marker line {MARKER!r}")
    DOC.write_text(text.replace(MARKER, f"{row}\n{MARKER}"), encoding="utf-8")


def _peak_mib() -> int:
    # The largest resident set of any waited-for child: only ours.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024


if __name__ == "__main__":
    main()
