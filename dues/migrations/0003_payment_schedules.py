"""Schedule the dues jobs once: reconciliation and the nightly ledger.

Created here rather than in CELERY_BEAT_SCHEDULE: django-celery-beat
re-imposes that setting at every start, while DESIGN.md wants the times
editable in the admin. Existing rows (an operator's edits) are kept.
"""

from django.db import migrations

RECONCILE = ("Dues: reconcile pending payments", "dues.tasks.reconcile_payments")
# (name, task, minute, hour), Asia/Shanghai
NIGHTLY = [("Dues: generate ledgers", "dues.tasks.generate_ledgers", "30", "1")]


def create_jobs(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_ten, _ = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    name, task = RECONCILE
    PeriodicTask.objects.get_or_create(
        name=name, defaults={"task": task, "interval": every_ten}
    )
    for name, task, minute, hour in NIGHTLY:
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
    names = [RECONCILE[0], *(name for name, *_ in NIGHTLY)]
    PeriodicTask.objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dues", "0002_national_policy_2008"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_jobs, remove_jobs)]
