"""Aggregates of memory-based review for secretaries: how much is reviewed,
how much is retained, and which questions are forgotten most.

Only counts leave this module: no member, no single answer (issue 7: no
individual answer is shown to other members). A review counts for the
subtree that holds the member's relationship on the last day of the
period asked, the way the period's other reports count members.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Count, F, FloatField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from learning.models import Review
from members.selectors import periods_on
from organizations.models import Organization
from organizations.scope import OutOfScope, Scope

# A question answered only once or twice says little about forgetting.
MIN_REVIEWS = 5


@dataclass(frozen=True)
class Retention:
    """Reviews in a period and the share of them answered correctly."""

    reviews: int
    correct: int

    @property
    def rate(self) -> float | None:
        return self.correct / self.reviews if self.reviews else None


@dataclass(frozen=True)
class ForgottenQuestion:
    """A question with how often it was reviewed and forgotten (Again)."""

    question_id: int
    text: str
    course_title: str
    reviews: int
    forgotten: int

    @property
    def rate(self) -> float:
        return self.forgotten / self.reviews


def retention(
    *,
    scope: Scope,
    organization: Organization,
    since: datetime.date,
    until: datetime.date,
) -> Retention:
    """Reviews and correct answers in ``organization``'s subtree, by day."""
    # TODO: hide figures of groups smaller than a few members, whose rate
    # reveals one person's answers; waits for the reporting work to agree
    # on one threshold for every aggregate.
    figures = _reviews_in(scope, organization, since, until).aggregate(
        reviews=Count("pk"), correct=Count("pk", filter=Q(correct=True))
    )
    return Retention(**figures)


def most_forgotten(
    *,
    scope: Scope,
    organization: Organization,
    since: datetime.date,
    until: datetime.date,
    min_reviews: int = MIN_REVIEWS,
    limit: int = 10,
) -> list[ForgottenQuestion]:
    """Questions with the highest share of Again ratings in the period."""
    rows = (
        _reviews_in(scope, organization, since, until)
        .values(
            question_id=F("card__question_id"),
            text=F("card__question__text"),
            course_title=F("card__question__course__title"),
        )
        .annotate(
            reviews=Count("pk"),
            forgotten=Count("pk", filter=Q(rating=Review.Rating.AGAIN)),
        )
        .filter(reviews__gte=min_reviews, forgotten__gt=0)
        .annotate(share=Cast("forgotten", FloatField()) / Cast("reviews", FloatField()))
        .order_by("-share", "-forgotten", "question_id")[:limit]
    )
    return [
        ForgottenQuestion(**{k: v for k, v in row.items() if k != "share"})
        for row in rows
    ]


def _reviews_in(
    scope: Scope,
    organization: Organization,
    since: datetime.date,
    until: datetime.date,
) -> QuerySet[Review]:
    if not scope.reads(organization):
        raise OutOfScope()
    # TODO: count a transferred member's reviews where they were held on
    # the day of each review; one date per period keeps this one subquery,
    # and the difference shows only for members who moved in the period.
    held = periods_on(until).filter(organization__path__startswith=organization.path)
    return Review.objects.filter(
        card__member_id__in=held.values("member_id"),
        reviewed_at__gte=_local_midnight(since),
        reviewed_at__lt=_local_midnight(until + datetime.timedelta(days=1)),
    )


def _local_midnight(day: datetime.date) -> datetime.datetime:
    # Days are the organisation's (Asia/Shanghai, the project's time zone).
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))
