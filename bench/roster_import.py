"""Time ``manage.py import_roster`` on a 100,000-row XLSX and CSV roster.

Usage::

    .venv/bin/python bench/roster_import.py [--rows 100000] [--keep]

Creates the database ``liudong_bench_import`` (dropping it first), migrates
it, loads the code tables and adds one branch. Writes a roster of valid
rows (the demo generator's people, under the headers the roster export
writes) as XLSX and as CSV, then times, for each file, a dry run (the
preview: read and check every row) and a real commit into the empty
member tables, each as a child process: wall time, rows per second, the
child's peak memory and the 1-minute load average when it started. The
results are printed and added to the table in docs/benchmarks.md. The
database is dropped at the end unless ``--keep`` is given.
"""

import argparse
import csv
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import environ
from seed_members import ROOT, _connect, _machine, _recreate, _run

DOC = ROOT / "docs" / "benchmarks.md"
MARKER = "<!-- bench/roster_import.py adds rows above this line -->"
BRANCH = "BENCH-IMPORT"
# The export's headers but the organisation ones: every row goes into the
# one branch the command is given.
SKIPPED_HEADERS = ("所在支部", "支部编码")


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("DJANGO_ENV", "development")
    os.environ["LIUDONG_LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _add_branch() -> None:
    from organizations.models import Organization

    Organization.objects.add_root(
        {
            "code": BRANCH,
            "name": "导入测试支部",
            "kind": "branch",
            "region_id": "430104",
        }
    )


def _roster_rows(count: int):
    """Yield the header, then ``count`` valid roster rows as typed values."""
    from django.utils import timezone

    from members.demo.people import generate_members
    from members.exports import FLAGS, GENDERS, HEADERS, STATUSES
    from members.models import Education, Ethnicity, Occupation

    keep = [i for i, h in enumerate(HEADERS) if h not in SKIPPED_HEADERS]
    names = {
        model: dict(model.objects.values_list("code", "name"))
        for model in (Ethnicity, Education, Occupation)
    }
    yield [HEADERS[i] for i in keep]
    for person in generate_members(seed=7, count=count, today=timezone.localdate()):
        cells = [
            person.name,
            person.id_number,
            GENDERS[person.gender],
            names[Ethnicity].get(person.ethnicity, ""),
            person.birth_date,
            person.joined_on,
            person.full_member_on,
            names[Education].get(person.education, ""),
            person.work_unit,
            names[Occupation].get(person.occupation, ""),
            person.phone,
            person.hukou_address,
            person.residence_address,
            FLAGS[person.is_migrant_worker],
            person.file_custodian,
            "",
            "",
            STATUSES[person.status],
        ]
        yield [cells[i] for i in keep]


def _write_files(directory: Path, count: int) -> dict[str, Path]:
    from members.exports import TEXT_COLUMNS, xlsx_file

    csv_path = directory / f"roster-{count}.csv"
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        for row in _roster_rows(count):
            writer.writerow(
                [v.isoformat() if isinstance(v, datetime.date) else v for v in row]
            )
    xlsx_path = directory / f"roster-{count}.xlsx"
    # The export's own workbook writer: ID numbers and phones as text
    # cells, dates as date cells.
    with xlsx_file([("花名册", _roster_rows(count), TEXT_COLUMNS)]) as workbook:
        xlsx_path.write_bytes(workbook.read())
    return {"xlsx": xlsx_path, "csv": csv_path}


def _timed(env: dict, args: list[str]) -> tuple[float, int, str, float]:
    """Run manage.py; return wall time, peak MiB, its output, load at start."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        # Fixed arguments, no shell: this only ever runs our own manage.py.
        child = subprocess.Popen(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=env,
            cwd=ROOT,
            stdout=output,
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed: {text}")
    return seconds, usage.ru_maxrss // 1024, text.strip(), load


def _empty_member_tables(cfg: dict, name: str) -> None:
    conn = _connect(cfg, name)
    with conn.cursor() as cur:
        cur.execute(
            "TRUNCATE members_auditevent, members_membershipperiod, members_member "
            "RESTART IDENTITY CASCADE"
        )
        cur.execute("VACUUM ANALYZE")
    conn.close()


def _pg_version(cfg: dict, name: str) -> str:
    conn = _connect(cfg, name)
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0].split()[0]
    conn.close()
    return version


def _record(rows: list[str]) -> None:
    text = DOC.read_text(encoding="utf-8")
    if MARKER not in text:
        raise SystemExit(f"{DOC} lacks the marker line {MARKER!r}")
    DOC.write_text(text.replace(MARKER, "\n".join(rows) + f"\n{MARKER}"), "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", default="liudong_bench_import")
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
    _setup_django(url)
    _add_branch()
    machine = _machine(_pg_version(cfg, args.database))

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        files = _write_files(Path(directory), args.rows)
        print(f"files written in {time.perf_counter() - started:.0f} s", flush=True)
        for kind, path in files.items():
            size = path.stat().st_size / 2**20
            for step in ("dry run", "commit"):
                command = ["import_roster", str(path), "--organization", BRANCH]
                if step == "dry run":
                    command.append("--dry-run")
                seconds, peak, summary, load = _timed(env, command)
                row = (
                    f"| {datetime.datetime.now(datetime.UTC).date()} | {machine} "
                    f"| {kind.upper()}, {size:.1f} MiB | {args.rows:,} | {step} "
                    f"| `{summary}` | {seconds:,.1f} s | {args.rows / seconds:,.0f} "
                    f"| {peak:,} MiB | {load:.1f} |"
                )
                print(row, flush=True)
                rows.append(row)
            _empty_member_tables(cfg, args.database)

    from django.db import connections

    connections.close_all()
    if not args.keep:
        _recreate(cfg, args.database, drop_only=True)
    if not args.no_record:
        _record(rows)


if __name__ == "__main__":
    main()
