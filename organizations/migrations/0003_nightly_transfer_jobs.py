"""Schedule the nightly transfer and mobility jobs once.

Created here rather than in CELERY_BEAT_SCHEDULE: django-celery-beat
re-imposes that setting at every start, while DESIGN.md wants the times
editable in the admin. Existing rows (an operator's edits) are kept.
"""

from django.db import migrations

JOBS = [
    # (name, task, minute, hour), Asia/Shanghai
    (
        "Transfers: take effect (out of the system)",
        "organizations.tasks.activate_due_transfers",
        "5",
        "0",
    ),
    ("Transfers: expire letters", "organizations.tasks.expire_transfer_letters", "15", "0"),
    ("Transfers: flag overdue receipts", "organizations.tasks.flag_overdue_receipts", "30", "1"),
    ("Mobility: prompts", "members.tasks.flag_mobility_prompts", "45", "1"),
]


def create_jobs(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour in JOBS:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="Asia/Shanghai",
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab}
        )


def remove_jobs(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0002_transfers"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_jobs, remove_jobs)]
