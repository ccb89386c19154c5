"""Study hours compliance of an organisation and year as XLSX or CSV.

One row per member the organisation holds, with the hours, target and
whether the target is met exactly as ``hours_compliance`` computes them
(the admin page shows the same object), then the count and share at
target. Personal data is the name only. Encodings, CSV streaming and
formula neutralising come from the roster export, as for dues.
"""

import logging
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from openpyxl import Workbook

from dues.exports import _xlsx_value
from learning.selectors.hours import Compliance, hours_compliance
from members.exports import (
    ENCODINGS,
    FORMATS,
    XLSX_CONTENT_TYPE,
    neutralise,
    roster_csv,
)
from members.services import audit_record
from organizations.models import Organization
from organizations.scope import Scope

__all__ = ["ENCODINGS", "FORMATS", "HEADERS", "compliance_response", "values"]

logger = logging.getLogger(__name__)

HEADERS = ("组织", "姓名", "学时", "目标学时", "是否达标")
MET = {True: "是", False: "否"}
TOTALS_LABEL = "合计"
SHARE_LABEL = "达标率"
SHEET = "学习学时"


def values(compliance: Compliance, organization: Organization) -> Iterator[list]:
    """Yield the header, a row per member, the count and the share at target.

    Hours are ``Decimal`` as the selector gives them; the target is an
    integer; the share is the selector's, 0 to 1 with four places.
    """
    yield list(HEADERS)
    for member in compliance.members:
        yield [
            organization.name,
            member.name,
            member.hours,
            member.target,
            MET[member.hours >= member.target],
        ]
    yield [TOTALS_LABEL, f"{len(compliance.members)}", "", "", compliance.at_target]
    yield [SHARE_LABEL, "", "", "", compliance.share]


def compliance_response(
    *,
    actor,
    scope: Scope,
    organization: Organization,
    year: int,
    file_format: str = "xlsx",
    encoding: str = "utf-8",
) -> StreamingHttpResponse | FileResponse:
    """Send the hours compliance of a year as an audited download."""
    compliance = hours_compliance(scope=scope, organization=organization, year=year)
    audit_record(
        actor=actor,
        action="learning.hours.exported",
        organization=organization,
        year=year,
        rows=len(compliance.members),
        format=file_format,
        encoding=encoding,
    )
    logger.info(
        "study hours exported actor_id=%s organization_id=%s year=%s rows=%s",
        getattr(actor, "pk", None),
        organization.pk,
        year,
        len(compliance.members),
    )
    filename = f"study-hours-{organization.code}-{year}"
    rows = values(compliance, organization)
    if file_format == "xlsx":
        response = FileResponse(
            _workbook(rows),
            as_attachment=True,
            filename=f"{filename}.xlsx",
            content_type=XLSX_CONTENT_TYPE,
        )
    else:
        codec, _prefix = ENCODINGS[encoding]
        response = StreamingHttpResponse(
            roster_csv(_csv_rows(rows), encoding=encoding),
            content_type=f"text/csv; charset={codec}",
        )
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"{filename}.csv"
        )
    response["Cache-Control"] = "no-store"
    return response


def _csv_rows(rows: Iterable[list[Any]]) -> Iterator[list[str]]:
    for row in rows:
        yield [
            f"{value}" if isinstance(value, Decimal | int) else neutralise(value)
            for value in row
        ]


def _workbook(rows: Iterable[list[Any]]) -> IO[bytes]:
    """Write the rows into a workbook in a temporary file, rewound."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET)
    for row in rows:
        # The dues cells: Decimal with two places shown, text formula-safe.
        sheet.append([_xlsx_value(sheet, value) for value in row])
    out = tempfile.TemporaryFile()
    try:
        workbook.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out
