# Shared bootstrap for scripts/run and scripts/test: a virtual environment,
# PostgreSQL and Redis, each reused when present and started when not.
# Sourced, not executed.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p var/log

log() { printf '[liudong] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # Only as root on Debian-like machines; elsewhere the caller reports what
    # is missing.
    as_root && command -v apt-get >/dev/null || return 1
    if [ ! -f var/.apt-updated ]; then
        apt-get update -qq >/dev/null && touch var/.apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

find_python() {
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            echo "$candidate"; return 0
        fi
    done
    die "Python 3.11 is required"
}

ensure_venv() {
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        "$(find_python)" -m venv .venv
    fi
    # Reinstall only when the declared dependencies changed.
    if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
        log "installing dependencies"
        .venv/bin/pip install -q --upgrade pip
        .venv/bin/pip install -q -e '.[dev]'
        touch .venv/.installed
    fi
    export PATH="$ROOT/.venv/bin:$PATH"
}

pg_bin() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$found" ] || found=$(dirname "$(command -v initdb 2>/dev/null || echo /x/x)")
    echo "$found"
}

start_local_postgres() {
    # A project-local cluster in var/pg, on its own port. initdb refuses to
    # run as root, so as root it runs as the postgres system user.
    local bin data port=54329
    bin=$(pg_bin); data="$ROOT/var/pg"
    [ -x "$bin/initdb" ] || die "no PostgreSQL server found: install postgresql or set DATABASE_URL"
    local run=()
    if as_root; then
        id postgres >/dev/null 2>&1 || useradd --system postgres
        run=(runuser -u postgres --)
        mkdir -p "$data"; chown postgres "$data"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        log "initialising a local PostgreSQL cluster in var/pg"
        "${run[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    "${run[@]}" "$bin/pg_ctl" -D "$data" -o "-p $port -k $data -c listen_addresses=127.0.0.1" \
        -l "$data/server.log" -w start >/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/liudong"
}

ensure_postgres() {
    if [ -n "${DATABASE_URL:-}" ]; then
        log "using DATABASE_URL"; return 0
    fi
    if pg_ready 127.0.0.1 5432 nowait; then
        export DATABASE_URL="postgres://postgres@127.0.0.1:5432/liudong"
    elif [ -f var/pg/PG_VERSION ] || ! command -v pg_ctlcluster >/dev/null; then
        start_local_postgres
    else
        log "starting the machine's PostgreSQL cluster"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start \
            || true
        pg_ready 127.0.0.1 5432 && export DATABASE_URL="postgres://postgres@127.0.0.1:5432/liudong" \
            || start_local_postgres
    fi
    log "database: $DATABASE_URL"
}

pg_ready() {
    local host=$1 port=$2
    for _ in $(seq 1 20); do
        python3 - "$host" "$port" <<'PY' && return 0
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5).close()
except OSError:
    sys.exit(1)
PY
        [ "${3:-wait}" = wait ] || return 1
        sleep 0.5
    done
    return 1
}

redis_ping() {
    python3 - "$1" <<'PY'
import socket, sys
host, port = "127.0.0.1", int(sys.argv[1])
try:
    s = socket.create_connection((host, port), timeout=0.5)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

ensure_redis() {
    # Prints nothing and returns 1 when no Redis can be had.
    if [ -n "${REDIS_URL:-}" ]; then
        log "using REDIS_URL"; return 0
    fi
    if ! redis_ping 6379; then
        command -v redis-server >/dev/null || apt_install redis-server || return 1
        log "starting redis-server on 127.0.0.1:6379"
        mkdir -p var/redis
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" \
            --appendonly no --dir "$ROOT/var/redis" --logfile "$ROOT/var/log/redis.log"
        for _ in $(seq 1 20); do redis_ping 6379 && break; sleep 0.25; done
        redis_ping 6379 || return 1
    fi
    export REDIS_URL="redis://127.0.0.1:6379/0"
}

ensure_database_exists() {
    .venv/bin/python - <<'PY'
import os
import environ
import psycopg2
from psycopg2 import sql

cfg = environ.Env.db_url_config(os.environ["DATABASE_URL"])
conn = psycopg2.connect(dbname="postgres", user=cfg["USER"], password=cfg["PASSWORD"],
                        host=cfg["HOST"], port=cfg["PORT"] or 5432)
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]])
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg["NAME"])))
PY
}

ensure_translations() {
    command -v msgfmt >/dev/null || apt_install gettext || die "msgfmt (gettext) is required"
    .venv/bin/python manage.py compilemessages -v 0 --ignore=.venv
}
