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


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:
        logger.exception("health check: database unreachable")
        return "down"


def _redis() -> str:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)
        client.ping()
        return "ok"
    except Exception:
        logger.warning("health check: redis unreachable")
        return "down"


def _celery() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    try:
        replies = celery_app.control.ping(timeout=1.0)
    except Exception:
        logger.warning("health check: celery broker unreachable")
        return "down"
    return "ok" if replies else "no workers"


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database(), "redis": _redis(), "celery": _celery()}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **checks},
        status=200 if healthy else 503,
    )
