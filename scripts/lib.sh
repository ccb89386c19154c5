# Shared bootstrap for scripts/run and scripts/test: a virtual environment,
# PostgreSQL and Redis, each reused when present and started when not.
# Servers a script starts are stopped when it exits. Sourced, not executed.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p var/log

# Project-local servers listen on their own ports so that they never clash
# with a machine-wide PostgreSQL or Redis on the default ones.
LOCAL_PG_PORT="${LIUDONG_PG_PORT:-54329}"
LOCAL_REDIS_PORT="${LIUDONG_REDIS_PORT:-63799}"

log() { printf '[liudong] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
as_root() { [ "$(id -u)" = 0 ]; }

# Cleanup actions run in reverse order on exit, whatever the exit reason.
_at_exit=()
at_exit() { _at_exit+=("$*"); }
_run_at_exit() {
    local i
    for ((i = ${#_at_exit[@]} - 1; i >= 0; i--)); do
        eval "${_at_exit[i]}" || true
    done
}
trap _run_at_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

apt_install() {
    # Only as root on Debian-like machines; elsewhere the caller reports what
    # is missing.
    as_root && command -v apt-get >/dev/null || return 1
    log "installing $* with apt-get"
    if [ ! -f var/.apt-updated ]; then
        apt-get update -qq >/dev/null && touch var/.apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

find_python() {
    local candidate
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

port_open() {
    # port_open HOST PORT [wait]: whether something accepts connections.
    local host=$1 port=$2 tries=1
    [ "${3:-}" = wait ] && tries=40
    for _ in $(seq 1 "$tries"); do
        .venv/bin/python - "$host" "$port" <<'PY' && return 0
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5).close()
except OSError:
    sys.exit(1)
PY
        [ "$tries" -gt 1 ] && sleep 0.25
    done
    return 1
}

pg_accepts() {
    # Whether DATABASE_URL-style URL $1 lets us in (a machine-wide server may
    # want a password the default URL does not carry).
    .venv/bin/python - "$1" <<'PY' 2>/dev/null
import sys
import environ
import psycopg2

cfg = environ.Env.db_url_config(sys.argv[1])
psycopg2.connect(dbname="postgres", user=cfg["USER"], password=cfg["PASSWORD"],
                 host=cfg["HOST"], port=cfg["PORT"] or 5432, connect_timeout=3).close()
PY
}

pg_bin() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$found" ] || found=$(dirname "$(command -v initdb 2>/dev/null || echo /x/x)")
    echo "$found"
}

start_local_postgres() {
    # A project-local cluster in var/pg, reachable over TCP only (a Unix
    # socket path under a deep checkout can exceed the kernel's limit).
    # initdb refuses to run as root, so as root it runs as the postgres user.
    local bin data="$ROOT/var/pg" port="$LOCAL_PG_PORT" run=()
    bin=$(pg_bin)
    [ -x "$bin/initdb" ] || die "no PostgreSQL server found: install postgresql or set DATABASE_URL"
    mkdir -p "$data"
    if as_root; then
        id postgres >/dev/null 2>&1 || useradd --system postgres
        chown postgres "$data"
        run=(runuser -u postgres --)
        "${run[@]}" test -w "$data" ||
            die "the postgres user cannot write $data: clone somewhere it can reach, or set DATABASE_URL"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        log "initialising a local PostgreSQL cluster in var/pg"
        "${run[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >/dev/null
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/liudong"
    if "${run[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        log "reusing the local PostgreSQL cluster on port $port"
        return 0
    fi
    port_open 127.0.0.1 "$port" &&
        die "port $port is taken by another program: set LIUDONG_PG_PORT or DATABASE_URL"
    log "starting the local PostgreSQL cluster on port $port"
    "${run[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w start \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" \
        >/dev/null || die "PostgreSQL did not start: see var/pg/server.log"
    at_exit stop_local_postgres
}

stop_local_postgres() {
    local run=()
    as_root && run=(runuser -u postgres --)
    log "stopping the local PostgreSQL cluster"
    "${run[@]}" "$(pg_bin)/pg_ctl" -D "$ROOT/var/pg" -m fast -w stop >/dev/null
}

ensure_postgres() {
    if [ -n "${DATABASE_URL:-}" ]; then
        log "database: DATABASE_URL from the environment"; return 0
    fi
    local machine="postgres://postgres@127.0.0.1:5432/liudong"
    if port_open 127.0.0.1 5432 && pg_accepts "$machine"; then
        export DATABASE_URL="$machine"
    else
        port_open 127.0.0.1 5432 &&
            log "the server on port 5432 refuses user postgres without a password"
        start_local_postgres
    fi
    log "database: $DATABASE_URL"
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
conn.close()
PY
}

redis_ping() {
    .venv/bin/python - "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

start_local_redis() {
    local port="$LOCAL_REDIS_PORT"
    command -v redis-server >/dev/null || apt_install redis-server || return 1
    port_open 127.0.0.1 "$port" && {
        log "port $port is taken by something that is not Redis"; return 1
    }
    log "starting a local redis-server on port $port"
    mkdir -p var/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" \
        --appendonly no --dir "$ROOT/var/redis" --pidfile "$ROOT/var/redis/redis.pid" \
        --logfile "$ROOT/var/log/redis.log" >/dev/null || return 1
    for _ in $(seq 1 40); do redis_ping "$port" && break; sleep 0.25; done
    redis_ping "$port" || return 1
    at_exit stop_local_redis
}

stop_local_redis() {
    local pid
    pid=$(cat "$ROOT/var/redis/redis.pid")
    log "stopping the local redis-server"
    kill "$pid"
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
}

ensure_redis() {
    # ensure_redis DB: exports REDIS_URL for database number DB, or returns 1
    # when no Redis can be had.
    local db=$1 port
    if [ -n "${REDIS_URL:-}" ]; then
        log "redis: REDIS_URL from the environment"; return 0
    fi
    if redis_ping 6379; then
        port=6379
    elif redis_ping "$LOCAL_REDIS_PORT"; then
        port=$LOCAL_REDIS_PORT
        log "reusing the local redis-server on port $port"
    else
        start_local_redis || return 1
        port=$LOCAL_REDIS_PORT
    fi
    export REDIS_URL="redis://127.0.0.1:$port/$db"
    log "redis: $REDIS_URL"
}

ensure_translations() {
    # compilemessages refuses to run when no locale folder exists, and must
    # not touch the catalogues of installed packages in .venv.
    if [ -z "$(find . -path ./.venv -prune -o -path ./var -prune -o \
        -type d -name locale -print -quit)" ]; then
        return 0
    fi
    command -v msgfmt >/dev/null || apt_install gettext || die "msgfmt (gettext) is required"
    .venv/bin/python manage.py compilemessages -v 0 --ignore=.venv --ignore=var
}
