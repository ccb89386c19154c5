"""Celery application: tasks are discovered in every installed app."""

import logging.config
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("liudong")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Log from workers and beat exactly as the web processes do."""
    # Any receiver of this signal stops Celery from replacing the root
    # logger's handlers with its own format, so every line stays key=value.
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
