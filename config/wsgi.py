"""WSGI entry point for gunicorn (and runserver, which loads it too)."""

import logging
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Here rather than in settings: logging is configured by now, and the warning
# appears once per serving process instead of once per management command.
if settings.CELERY_TASK_ALWAYS_EAGER:
    logging.getLogger(__name__).warning(
        "celery tasks run in-process (LIUDONG_CELERY_EAGER): fine for a demo, "
        "wrong for anything else"
    )
