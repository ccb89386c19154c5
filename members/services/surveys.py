"""What mobile members tell the outflow side: yearly reports, needs surveys."""

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import (
    ACTIVE_MOBILITY_STATUSES,
    Difficulty,
    Intention,
    Member,
    Mobility,
    NeedsSurvey,
    SurveyAnswer,
    User,
    YearlyReport,
)
from members.selectors import survey_audience
from members.services._common import audit_record, require_write
from members.services.mobility import MobilityStateError
from organizations.models import Organization
from organizations.scope import OutOfScope, scope_for

logger = logging.getLogger(__name__)


def _own_member(actor: User) -> Member | None:
    return Member.objects.filter(user=actor).first() if actor.is_authenticated else None


@transaction.atomic
def yearly_report_file(
    *, actor: User, body: str, year: int | None = None
) -> YearlyReport:
    """File the yearly report a mobile member owes the outflow organisation."""
    member = _own_member(actor)
    if member is None:
        raise OutOfScope()
    mobility = Mobility.objects.filter(
        member=member, status__in=ACTIVE_MOBILITY_STATUSES
    ).first()
    if mobility is None:
        raise MobilityStateError(
            _("Only a member registered as away files a yearly report."),
            code="not_mobile",
        )
    if not body.strip():
        raise ValidationError({"body": _("The report is empty.")})

    # Filing again in the same year replaces the text: one report a year.
    report, created = YearlyReport.objects.update_or_create(
        member=member,
        year=year or timezone.localdate().year,
        defaults={
            "body": body.strip(),
            "mobility": mobility,
            "organization": mobility.outflow_organization,
        },
    )

    audit_record(
        actor=actor,
        action="mobility.yearly_report",
        member=member,
        organization=mobility.outflow_organization,
        year=report.year,
        created=created,
    )
    logger.info("yearly report filed report_id=%s member_id=%s", report.pk, member.pk)
    return report


@transaction.atomic
def survey_publish(
    *,
    actor: User,
    organization: Organization,
    title: str,
    closes_on: datetime.date | None = None,
) -> NeedsSurvey:
    """Publish a needs survey to the mobile members under ``organization``."""
    require_write(scope_for(actor), organization)
    if not title.strip():
        raise ValidationError({"title": _("A title is required.")})
    if closes_on is not None and closes_on < timezone.localdate():
        raise ValidationError({"closes_on": _("The date is in the past.")})

    survey = NeedsSurvey.objects.create(
        organization=organization,
        title=title.strip(),
        published_by=actor,
        closes_on=closes_on,
    )

    audit_record(
        actor=actor,
        action="survey.publish",
        organization=organization,
        survey_id=survey.pk,
    )
    logger.info(
        "survey published survey_id=%s organization_id=%s",
        survey.pk,
        organization.pk,
    )
    return survey


@transaction.atomic
def survey_answer(
    *,
    actor: User,
    survey: NeedsSurvey,
    intention: str,
    difficulties: list[str],
    situation: str = "",
    difficulties_note: str = "",
) -> SurveyAnswer:
    """Answer a needs survey as a member; answering again updates it."""
    member = _own_member(actor)
    if member is None or not survey_audience(survey).filter(pk=member.pk).exists():
        raise OutOfScope()
    if survey.closes_on is not None and survey.closes_on < timezone.localdate():
        raise ValidationError(_("This survey is closed."), code="survey_closed")
    if intention not in Intention.values:
        raise ValidationError({"intention": _("Choose one of the intentions.")})
    unknown = set(difficulties) - set(Difficulty.values)
    if unknown:
        raise ValidationError({"difficulties": _("Unknown difficulty.")})

    answer, created = SurveyAnswer.objects.update_or_create(
        survey=survey,
        member=member,
        defaults={
            "intention": intention,
            # Stored in the order of the question, each once.
            "difficulties": [d for d in Difficulty.values if d in difficulties],
            "situation": situation.strip(),
            "difficulties_note": difficulties_note.strip(),
        },
    )

    audit_record(
        actor=actor,
        action="survey.answer",
        member=member,
        survey_id=survey.pk,
        created=created,
    )
    logger.info("survey answered survey_id=%s member_id=%s", survey.pk, member.pk)
    return answer
