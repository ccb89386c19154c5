"""Import a roster file for an organisation from the command line."""

import datetime
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from members import roster
from organizations.models import Organization


class Command(BaseCommand):
    help = (
        "Check a roster file (XLSX, XLS, CSV) and import its valid rows into an "
        "organisation. Runs as the operator; see docs/roster-import.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--organization", required=True, help="code of the target organisation"
        )
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="write nothing when any row fails",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check only; write nothing"
        )
        parser.add_argument(
            "--report", type=Path, help="write the JSON report here ('-' for stdout)"
        )
        parser.add_argument(
            "--since",
            type=datetime.date.fromisoformat,
            help="first day the organisation holds the members (default today)",
        )

    def handle(self, *args, **options):
        organization = Organization.objects.filter(code=options["organization"]).first()
        if organization is None:
            raise CommandError(
                f"No organisation has the code {options['organization']}"
            )
        if not options["file"].is_file():
            raise CommandError(f"No such file: {options['file']}")

        try:
            report = self._run(organization, options)
        except roster.RosterFileError as exc:
            self._write_report(
                options["report"], self._refusal(options, organization, exc)
            )
            raise CommandError(f"{exc.code}: {exc.message}") from None

        result = report.as_dict() | {"dry_run": options["dry_run"]}
        self._write_report(options["report"], result)
        # With the report on stdout, the summary goes to stderr.
        summary = self.stderr if str(options["report"]) == "-" else self.stdout
        summary.write(
            f"rows={report.rows} valid={report.valid} imported={report.imported} "
            f"unchanged={len(report.unchanged)} errors={len(report.errors)} "
            f"warnings={len(report.warnings)}"
        )
        if report.refused:
            raise CommandError(
                "all or nothing: rows failed, nothing was imported (see the report)"
            )

    def _run(self, organization, options) -> roster.ImportReport:
        common = dict(
            file=options["file"],
            organization=organization,
            actor=None,
            all_or_nothing=options["all_or_nothing"],
        )
        if options["dry_run"]:
            return roster.preview(**common)
        return roster.commit(**common, starts_on=options["since"])

    def _refusal(self, options, organization, exc) -> dict:
        return {
            "file": options["file"].name,
            "organization": organization.code,
            "refused": True,
            "header_row": None,
            "rows": 0,
            "valid": 0,
            "imported": 0,
            "unchanged": [],
            "errors": [
                {
                    "row": None,
                    "column": "",
                    "code": exc.code,
                    "value": "",
                    "message": str(exc.message),
                }
            ],
            "warnings": [],
            "members": [],
            "dry_run": options["dry_run"],
        }

    def _write_report(self, path: Path | None, report: dict) -> None:
        if path is None:
            return
        text = json.dumps(report, ensure_ascii=False, indent=1)
        if str(path) == "-":
            sys.stdout.write(text + "\n")
        else:
            path.write_text(text + "\n", encoding="utf-8")
