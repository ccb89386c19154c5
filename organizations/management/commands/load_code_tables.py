"""Load the national code tables the project ships into the database."""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from members.models import Education, Ethnicity, Industry, Occupation
from organizations.models import Region

ROOT = Path(__file__).resolve().parents[3]


def _rows(relative: str) -> list[dict[str, str]]:
    with (ROOT / relative).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _upsert(model, objects, fields) -> int:
    model.objects.bulk_create(
        objects, update_conflicts=True, unique_fields=["code"], update_fields=fields
    )
    return len(objects)


class Command(BaseCommand):
    help = (
        "Load regions, ethnicities, education, industries and occupations (idempotent)."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        regions = sorted(
            _rows("organizations/data/regions.csv"), key=lambda r: r["level"]
        )
        counts = {
            # Parents come first: rows are sorted by level.
            "regions": _upsert(
                Region,
                [
                    Region(
                        code=r["code"],
                        name=r["name"],
                        level=int(r["level"]),
                        parent_id=r["parent_code"] or None,
                    )
                    for r in regions
                ],
                ["name", "level", "parent"],
            ),
            "ethnicities": _upsert(
                Ethnicity,
                [Ethnicity(**r) for r in _rows("members/data/ethnicities.csv")],
                ["name"],
            ),
            "education": _upsert(
                Education,
                [Education(**r) for r in _rows("members/data/education.csv")],
                ["name"],
            ),
            "industries": _upsert(
                Industry,
                [
                    Industry(
                        code=r["code"], name=r["name"], parent_id=r["parent"] or None
                    )
                    for r in sorted(
                        _rows("members/data/industries.csv"),
                        key=lambda r: bool(r["parent"]),
                    )
                ],
                ["name", "parent"],
            ),
            "occupations": _upsert(
                Occupation,
                [
                    Occupation(
                        code=r["code"],
                        name=r["name"],
                        is_new_employment=r["new_employment"] == "1",
                    )
                    for r in _rows("members/data/occupations.csv")
                ],
                ["name", "is_new_employment"],
            ),
        }
        summary = " ".join(f"{k}={v}" for k, v in counts.items())
        self.stdout.write(f"code tables loaded: {summary}")
