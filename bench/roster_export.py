"""Time the roster export (CSV and XLSX) of every member, and its memory.

Usage::

    .venv/bin/python bench/seed_members.py --members 1000000 \\
        --database liudong_bench_export --keep --no-record
    .venv/bin/python bench/roster_export.py --database liudong_bench_export \\
        [--limit 100000] [--formats csv xlsx]

Needs a database seeded by ``seed_demo`` (above). For each format, a child
process runs the export functions the admin's export view calls, for an
operator (full ID numbers and phones, so each row decrypts both), over the
members in primary-key order: CSV encoded chunk by chunk as the streamed
response sends them, XLSX written row by row to a temporary file and then
copied out as the file response would. The output goes to /dev/null. The
parent records wall time (from process start, so Django's start-up is
included), rows per second, the child's peak resident memory, the size of
the output and the 1-minute load average at the start, prints them and adds
them to docs/benchmarks.md.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import environ
from seed_members import ROOT, _connect, _machine

DOC = ROOT / "docs" / "benchmarks.md"
MARKER = "<!-- bench/roster_export.py adds rows above this line -->"


def _child(file_format: str, limit: int | None) -> None:
    """Export in this process and print rows, bytes and seconds as JSON."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from members import exports
    from members.selectors import member_list
    from organizations.scope import Scope

    started = time.perf_counter()
    scope = Scope(user_id=None, is_operator=True)
    members = member_list(scope=scope).order_by("pk")
    if limit:
        members = members.filter(pk__in=members.values("pk")[:limit])
    counted = [0]

    def counting(rows):
        for row in rows:
            counted[0] += 1
            yield row

    written = 0
    with open(os.devnull, "wb") as sink:
        if file_format == "csv":
            rows = counting(exports.roster_rows(members, scope=scope))
            for chunk in exports.roster_csv(rows, encoding="utf-8"):
                written += sink.write(chunk)
        else:
            # What exports.roster_xlsx does, with the rows counted.
            rows = counting(exports.roster_values(members, scope=scope))
            sheet = (exports.ROSTER_SHEET, rows, exports.TEXT_COLUMNS)
            with exports.xlsx_file([sheet]) as workbook:
                shutil.copyfileobj(workbook, sink)
                written = workbook.tell()
    print(
        json.dumps(
            {
                "rows": counted[0] - 1,  # the header is no member
                "bytes": written,
                "seconds": time.perf_counter() - started,
            }
        )
    )


def _run_child(env: dict, file_format: str, limit: int | None) -> dict:
    load = os.getloadavg()[0]
    args = [sys.executable, __file__, "--child", file_format]
    if limit:
        args += ["--limit", str(limit)]
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        # Fixed arguments, no shell: this only ever runs this script.
        child = subprocess.Popen(args, env=env, cwd=ROOT, stdout=output)  # noqa: S603
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"export {file_format} failed: {text}")
    result = json.loads(text.strip().splitlines()[-1])
    return result | {
        "wall": seconds,
        "peak_mib": usage.ru_maxrss // 1024,
        "load": load,
    }


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
    parser.add_argument("--database", default="liudong_bench_export")
    parser.add_argument("--formats", nargs="+", default=["csv", "xlsx"])
    parser.add_argument("--limit", type=int, help="export only the first N")
    parser.add_argument("--child", choices=["csv", "xlsx"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="print only; leave docs/benchmarks.md alone",
    )
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.limit)
        return

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/liudong")
    cfg = environ.Env.db_url_config(base)
    env = {
        **os.environ,
        "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + args.database,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV": "development",
        "LIUDONG_LOG_LEVEL": "WARNING",
    }
    machine = _machine(_pg_version(cfg, args.database))

    rows = []
    for file_format in args.formats:
        result = _run_child(env, file_format, args.limit)
        row = (
            f"| {datetime.datetime.now(datetime.UTC).date()} | {machine} "
            f"| {file_format.upper()} | {result['rows']:,} "
            f"| {result['bytes'] / 2**20:,.0f} MiB | {result['wall']:,.0f} s "
            f"| {result['rows'] / result['wall']:,.0f} | {result['peak_mib']:,} MiB "
            f"| {result['load']:.1f} |"
        )
        print(row, flush=True)
        rows.append(row)
    if not args.no_record:
        _record(rows)


if __name__ == "__main__":
    main()
