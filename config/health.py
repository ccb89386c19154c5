"""The health endpoint: database, Redis and Celery workers, as JSON."""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

# Probes call this every few seconds: each check gives up after about a
# second instead of waiting out the client libraries' retries.
_TIMEOUT_SECONDS = 1.0


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:
        logger.exception("health check: database unreachable")
        return "down"


def _redis() -> str:
    if settings.LIUDONG_NO_REDIS:
        return "unused"
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=_TIMEOUT_SECONDS
        )
        client.ping()
        return "ok"
    except Exception:
        logger.warning("health check: redis unreachable")
        return "down"


def _celery() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    try:
        with celery_app.connection_for_write(
            connect_timeout=_TIMEOUT_SECONDS
        ) as broker:
            broker.ensure_connection(max_retries=0)
            replies = celery_app.control.ping(
                timeout=_TIMEOUT_SECONDS, connection=broker
            )
    except Exception:
        logger.warning("health check: celery broker unreachable")
        return "down"
    return "ok" if replies else "no workers"


@never_cache
@require_GET
def healthz(request):
    """Report each dependency; 200 only when every one is up."""
    checks = {"database": _database(), "redis": _redis(), "celery": _celery()}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **checks},
        status=200 if healthy else 503,
    )
