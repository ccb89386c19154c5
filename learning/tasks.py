"""Study jobs: thin Celery tasks around the study services."""

from celery import shared_task
from django.db import OperationalError

from learning.services.study import credit_meeting_attendance
from organizations.models import Meeting


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def credit_lecture(meeting_id: int) -> int:
    """Credit the members present at a held Party lecture (idempotent)."""
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    return credit_meeting_attendance(meeting) if meeting else 0
