"""Memory-based review (记忆性学习): cards scheduled by FSRS.

Each member gets one card per active question of the courses they have
opened. Answering a due card grades the answer, asks the ``fsrs`` library
for the next due date and keeps a Review row; the rows are the history
from which :func:`reschedule_all` recomputes every schedule when the
parameters or the desired retention change.

A double submit (a retried request, a second tap) must not count twice.
Reviews carry no client id, so the rule is the schedule's own: a card is
answered only when it is due. The first answer moves ``due`` into the
future (at least the first learning step, one minute), so the second,
which waits for the row lock, finds the card not due and is refused with
:class:`NotDue`.
"""

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import fsrs
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from fsrs.scheduler import DEFAULT_PARAMETERS

from learning.models import Card, Progress, Question, Review
from members.models import Member
from organizations.scope import OutOfScope

logger = logging.getLogger(__name__)

Rating = Review.Rating
# A correct answer rates itself as the member says; Again is for errors.
CORRECT_RATINGS = frozenset({Rating.HARD, Rating.GOOD, Rating.EASY})
# Cards recomputed per transaction by reschedule_all.
RESCHEDULE_CHUNK = 500
_CARD_FIELDS = ["state", "step", "stability", "difficulty", "due", "last_review"]


class NotDue(Exception):
    """The card is not due: answered already (a double submit) or early."""

    def __init__(self, due: datetime.datetime):
        super().__init__(_("This card is not due for review yet."))
        self.due = due


@dataclass(frozen=True)
class Answered:
    """The outcome of one answer: what was right, and the next due date."""

    card: Card
    review: Review
    correct: bool


def scheduler() -> fsrs.Scheduler:
    """Build the FSRS scheduler from the settings."""
    raw = settings.LIUDONG_FSRS_PARAMETERS.strip()
    parameters = tuple(float(p) for p in raw.split(",")) if raw else DEFAULT_PARAMETERS
    return fsrs.Scheduler(
        parameters=parameters,
        desired_retention=settings.LIUDONG_FSRS_DESIRED_RETENTION,
    )


def cards_for(member: Member, *, now: datetime.datetime | None = None) -> int:
    """Create the member's missing cards; return how many were missing.

    A card exists for each active question of each course the member has
    opened. Two requests at once both insert; the unique constraint and
    ``ignore_conflicts`` keep one card each.
    """
    now = now or timezone.now()
    opened = Progress.objects.filter(member=member).values("course_id")
    missing = (
        Question.objects.filter(course_id__in=opened, active=True)
        .exclude(cards__member=member)
        .values_list("pk", flat=True)
    )
    cards = [Card(member=member, question_id=pk, due=now) for pk in missing]
    Card.objects.bulk_create(cards, ignore_conflicts=True)
    return len(cards)


def due_cards(
    member: Member, *, now: datetime.datetime | None = None, limit: int = 20
) -> QuerySet[Card]:
    """The member's cards due at ``now``, most overdue first."""
    now = now or timezone.now()
    return (
        Card.objects.filter(member=member, due__lte=now, question__active=True)
        .select_related("question")
        .order_by("due", "pk")[:limit]
    )


def grade(question: Question, chosen: Iterable[int]) -> bool:
    """Whether ``chosen`` (0-based option indexes) is exactly the answer.

    Single choice wants the one right option, multiple choice the exact
    set, true/false ``[1]`` for true or ``[0]`` for false.
    """
    picked = list(chosen)
    if question.kind != Question.Kind.MULTIPLE and len(picked) != 1:
        return False
    return sorted(set(picked)) == sorted(question.answer)


class InvalidChoice(ValueError):
    """The answer names no option of the question; the card is untouched."""


def _checked_choice(question: Question, chosen: Iterable[int]) -> list[int]:
    # A tampered or empty answer must not use up the card as "forgotten".
    count = 2 if question.kind == Question.Kind.TRUE_FALSE else len(question.options)
    picked = list(chosen)
    if not picked or any(
        not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < count
        for i in picked
    ):
        raise InvalidChoice(_("Choose one of the question's options."))
    return picked


def answer(
    *,
    user,
    card_id: int,
    chosen: Iterable[int],
    at: datetime.datetime | None = None,
    duration_ms: int | None = None,
    rating: int | None = None,
) -> Answered:
    """Grade the user's answer to their own card and schedule it again.

    ``rating`` is the member's Hard, Good (default) or Easy for a correct
    answer; a wrong answer is always Again. Raises ``OutOfScope`` for a
    card that is not the user's, ``NotDue`` for one not due at ``at``.
    """
    at = at or timezone.now()
    if rating is not None and rating not in CORRECT_RATINGS:
        raise ValueError(f"rating {rating} is not Hard, Good or Easy")

    with transaction.atomic():
        card = _own_card_locked(user, card_id)
        # TODO: accept a client review id and answer a retry with the first
        # outcome; a retry arriving after the card fell due again (one
        # minute for Again) counts as a new review. Needs a column on Review.
        if card.due > at:
            raise NotDue(card.due)
        chosen = _checked_choice(card.question, chosen)
        correct = grade(card.question, chosen)
        given = (rating or Rating.GOOD) if correct else Rating.AGAIN

        reviewed, _log = scheduler().review_card(
            _to_fsrs(card), fsrs.Rating(given), _utc(at), duration_ms
        )
        _copy_schedule(reviewed, card)
        card.save(update_fields=_CARD_FIELDS)
        review = Review.objects.create(
            card=card,
            rating=given,
            correct=correct,
            reviewed_at=at,
            duration_ms=duration_ms,
        )

    logger.debug("card %s reviewed, rating %s", card.pk, given)
    return Answered(card=card, review=review, correct=correct)


def reschedule_all(member: Member | None = None) -> int:
    """Recompute reviewed cards from their history; return how many.

    Run after a change of LIUDONG_FSRS_PARAMETERS or of the desired
    retention, for one member or everyone. Each chunk locks its cards, so
    an answer given meanwhile is not overwritten by a stale replay.
    """
    # TODO: run as a chunked Celery task for a province's millions of
    # cards; FSRS replays in Python, so it cannot be one SQL statement, and
    # no parameter change has been planned before the reporting work.
    cards = Card.objects.filter(reviews__isnull=False).distinct()
    if member is not None:
        cards = cards.filter(member=member)
    ids = list(cards.order_by("pk").values_list("pk", flat=True))
    sched = scheduler()
    for start in range(0, len(ids), RESCHEDULE_CHUNK):
        _reschedule_chunk(sched, ids[start : start + RESCHEDULE_CHUNK])
    logger.info("rescheduled %s review cards", len(ids))
    return len(ids)


def _reschedule_chunk(sched: fsrs.Scheduler, ids: list[int]) -> None:
    with transaction.atomic():
        cards = list(
            Card.objects.select_for_update()
            .filter(pk__in=ids)
            .prefetch_related("reviews")
        )
        for card in cards:
            logs = [_to_log(card.pk, review) for review in card.reviews.all()]
            _copy_schedule(sched.reschedule_card(_to_fsrs(card), logs), card)
        Card.objects.bulk_update(cards, _CARD_FIELDS)


def _own_card_locked(user, card_id: int) -> Card:
    card = (
        Card.objects.select_for_update(of=("self",))
        .select_related("question")
        .filter(pk=card_id, member__user_id=user.pk, question__active=True)
        .first()
    )
    if card is None:
        raise OutOfScope()
    return card


def _to_fsrs(card: Card) -> fsrs.Card:
    return fsrs.Card(
        card_id=card.pk,
        state=fsrs.State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=_utc(card.due),
        last_review=_utc(card.last_review) if card.last_review else None,
    )


def _to_log(card_id: int, review: Review) -> fsrs.ReviewLog:
    return fsrs.ReviewLog(
        card_id=card_id,
        rating=fsrs.Rating(review.rating),
        review_datetime=_utc(review.reviewed_at),
        review_duration=review.duration_ms,
    )


def _copy_schedule(source: fsrs.Card, card: Card) -> None:
    card.state = int(source.state)
    card.step = source.step
    card.stability = source.stability
    card.difficulty = source.difficulty
    card.due = source.due
    card.last_review = source.last_review


def _utc(moment: datetime.datetime) -> datetime.datetime:
    # The library accepts only datetimes whose tzinfo is exactly UTC.
    return moment.astimezone(datetime.UTC)
