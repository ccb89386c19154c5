"""The health endpoint: database, Redis and Celery workers, as JSON."""

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import OperationalError
from kombu import Connection

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"
WORKER_START_SECONDS = 60

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_tasks(settings):
    # Tests may run Celery tasks in-process; the health check must see the
    # broker and the workers as production does.
    settings.CELERY_TASK_ALWAYS_EAGER = False


@pytest.fixture
def worker_replies(monkeypatch, queued_tasks):
    # The broker is real; only the workers' reply is made up.
    monkeypatch.setattr(
        celery_app.control, "ping", lambda **kwargs: [{"w1@host": {"ok": "pong"}}]
    )


class _BrokenConnection:
    def cursor(self):
        raise OperationalError("connection refused")


def test_healthz_answers_200_when_database_redis_and_workers_are_up(
    client, worker_replies
):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "celery": "ok",
    }


def test_healthz_answers_503_when_redis_is_down(client, settings, worker_replies):
    settings.REDIS_URL = CLOSED_PORT_URL

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "redis": "down",
        "celery": "ok",
    }


def test_healthz_answers_503_when_no_worker_replies(client, monkeypatch, queued_tasks):
    monkeypatch.setattr(celery_app.control, "ping", lambda **kwargs: [])

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["celery"] == "no workers"


def test_healthz_gives_up_on_an_unreachable_broker_within_seconds(
    client, monkeypatch, queued_tasks
):
    monkeypatch.setattr(
        celery_app,
        "connection_for_write",
        lambda **kwargs: Connection(CLOSED_PORT_URL, **kwargs),
    )
    started = time.monotonic()

    response = client.get("/healthz")

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["celery"] == "down"


def test_healthz_answers_503_and_logs_an_error_when_the_database_is_down(
    client, monkeypatch, worker_replies, caplog
):
    monkeypatch.setattr("config.health.connection", _BrokenConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "config.health"
    ] == [("ERROR", "health check: database unreachable")]


def test_healthz_without_redis_reports_the_demo_fallback_as_degraded(client, settings):
    settings.LIUDONG_NO_REDIS = True
    settings.CELERY_TASK_ALWAYS_EAGER = True

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "redis": "unused",
        "celery": "in-process",
    }


def test_healthz_refuses_post(client):
    response = client.post("/healthz")

    assert response.status_code == 405


@pytest.fixture(scope="module")
def celery_worker(tmp_path_factory):
    """Start a real worker on the test broker and wait until it answers."""
    # Its own queue, so that it never takes tasks meant for anyone else.
    queue = f"healthz-{uuid.uuid4().hex[:12]}"
    node = f"{queue}@{socket.gethostname()}"
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {**os.environ, "LIUDONG_CELERY_EAGER": "0"}
    command = [
        sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker",
        "--pool=solo", "--hostname", node, "--queues", queue, "--loglevel=INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 (a fixed command line)
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_for(node, process, log_path)
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for(node, process, log_path):
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the Celery worker exited:\n{log_path.read_text()}")
        if celery_app.control.ping(destination=[node], timeout=1.0):
            return
    pytest.fail(f"the Celery worker did not answer:\n{log_path.read_text()}")


def test_healthz_sees_a_real_celery_worker(client, queued_tasks, celery_worker):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["celery"] == "ok"


def test_celery_worker_logs_in_the_same_key_value_format(celery_worker):
    lines = celery_worker.read_text().splitlines()

    ready = [line for line in lines if line.endswith(" ready.")]
    assert len(ready) == 1
    assert re.fullmatch(
        r"ts=\S+ \S+ level=INFO logger=celery\.apps\.worker "
        r"msg=healthz-\w+@\S+ ready\.",
        ready[0],
    )
