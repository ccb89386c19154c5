"""Time ``manage.py seed_demo --members N`` on a fresh database.

Usage::

    .venv/bin/python bench/seed_members.py [--members 1000000] [--keep]

Creates the database ``liudong_bench`` (dropping it first), migrates it,
loads the code tables, then times ``seed_demo`` as a child process: wall
time, members per second and the child's peak memory. The result is printed
and added to the table in docs/benchmarks.md. The database is dropped at the
end unless ``--keep`` is given.
"""

import argparse
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

import environ
import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
MARKER = "<!-- bench/seed_members.py adds rows above this line -->"


def _connect(cfg: dict, dbname: str):
    conn = psycopg2.connect(
        dbname=dbname,
        user=cfg["USER"],
        password=cfg["PASSWORD"],
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
    )
    conn.autocommit = True
    return conn


def _recreate(cfg: dict, name: str, *, drop_only: bool = False) -> None:
    # Not "with conn": in psycopg2 that opens a transaction even under
    # autocommit, and CREATE/DROP DATABASE refuse to run inside one.
    conn = _connect(cfg, "postgres")
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        if not drop_only:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()


def _manage(env: dict, *args: str) -> subprocess.Popen:
    # Fixed arguments, no shell: this only ever runs our own manage.py.
    return subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT
    )


def _run(env: dict, *args: str) -> None:
    if _manage(env, *args).wait() != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed")


def _timed(env: dict, *args: str) -> tuple[float, int]:
    """Run a command; return its wall time and peak memory in MiB."""
    started = time.perf_counter()
    child = _manage(env, *args)
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed")
    return seconds, usage.ru_maxrss // 1024  # Linux reports KiB


def _counts(cfg: dict, name: str) -> tuple[int, int, str]:
    conn = _connect(cfg, name)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM members_member")
        members = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM members_membershipperiod")
        periods = cur.fetchone()[0]
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0].split()[0]
    conn.close()
    return members, periods, version


def _machine(pg_version: str) -> str:
    with open("/proc/meminfo") as fh:
        kib = int(fh.readline().split()[1])
    return (
        f"{os.cpu_count()} cores, {round(kib / 2**20)} GB RAM, PostgreSQL {pg_version}"
    )


def _record(row: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    if MARKER not in text:
        raise SystemExit(f"{DOC} lacks the marker line {MARKER!r}")
    DOC.write_text(text.replace(MARKER, f"{row}\n{MARKER}"), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", default="liudong_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="print only; leave docs/benchmarks.md alone",
    )
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/liudong")
    cfg = environ.Env.db_url_config(base)
    url = base.rsplit("/", 1)[0] + "/" + args.database
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_ENV": "development",
        "LIUDONG_LOG_LEVEL": "WARNING",
    }

    _recreate(cfg, args.database)
    _run(env, "migrate", "--no-input", "-v", "0")
    _run(env, "load_code_tables")
    load = os.getloadavg()[0]
    # Dues are timed on their own by bench/dues_ledger.py; here they would
    # hide the members' load behind the ledger's.
    command = f"seed_demo --members {args.members} --seed {args.seed} --no-dues"
    seconds, peak_mib = _timed(env, *command.split())
    members, periods, version = _counts(cfg, args.database)
    if not args.keep:
        _recreate(cfg, args.database, drop_only=True)

    row = (
        f"| {datetime.datetime.now(datetime.UTC).date()} | {_machine(version)} "
        f"| `{command}` | {members:,} members, {periods:,} periods "
        f"| {seconds:,.0f} s | {members / seconds:,.0f} | {peak_mib:,} MiB "
        f"| {load:.1f} |"
    )
    print(row)
    if not args.no_record:
        _record(row)


if __name__ == "__main__":
    main()
