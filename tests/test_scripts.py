"""The set-up scripts: the fallback servers they start, and their guards.

Each test runs ``scripts/lib.sh`` from a scratch project folder (the real
virtual environment linked in), so that servers and data land there and not
in the checkout.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _is_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def project():
    # Under /tmp and world-readable: as root the cluster runs as the postgres
    # user, which must reach the data folder.
    folder = Path(tempfile.mkdtemp(prefix="liudong-scripts-"))
    folder.chmod(0o755)
    (folder / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "lib.sh", folder / "scripts" / "lib.sh")
    (folder / ".venv").symlink_to(ROOT / ".venv")
    yield folder
    shutil.rmtree(folder)


def _bash(project: Path, script: str, **variables: str):
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(variables)
    return subprocess.run(  # noqa: S603 (bash with our own script)
        ["bash", "-c", f"source scripts/lib.sh\n{script}"],  # noqa: S607
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(
    not (shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb")),
    reason="needs PostgreSQL's server packages",
)
def test_a_local_postgres_cluster_is_created_used_and_stopped_on_exit(project):
    port = _free_port()
    script = """
        start_local_postgres
        ensure_database_exists
        psql "$DATABASE_URL" -Atc "SELECT current_database()"
        echo "$DATABASE_URL"
    """

    result = _bash(project, script, LIUDONG_PG_PORT=str(port))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"liudong\npostgres://postgres@127.0.0.1:{port}/liudong\n"
    assert result.stderr.splitlines() == [
        "[liudong] initialising a local PostgreSQL cluster in var/pg",
        f"[liudong] starting the local PostgreSQL cluster on port {port}",
        "[liudong] stopping the local PostgreSQL cluster",
    ]
    assert (project / "var" / "pg" / "PG_VERSION").is_file()
    assert not _is_open(port)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_a_local_redis_is_started_and_stopped_on_exit(project):
    port = _free_port()

    result = _bash(
        project, f'start_local_redis && redis_ping {port} && echo "up"',
        LIUDONG_REDIS_PORT=str(port),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout == "up\n"
    assert result.stderr.splitlines() == [
        f"[liudong] starting a local redis-server on port {port}",
        "[liudong] stopping the local redis-server",
    ]
    assert not _is_open(port)


def test_translations_are_skipped_while_no_locale_folder_exists(project):
    result = _bash(project, "ensure_translations && echo done")

    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "")


def test_scripts_run_refuses_production_mode():
    result = subprocess.run(  # noqa: S603
        ["bash", str(ROOT / "scripts" / "run")],  # noqa: S607
        env={**os.environ, "DJANGO_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr == (
        "[liudong] error: scripts/run serves demo data in development mode; "
        "unset DJANGO_ENV\n"
    )
