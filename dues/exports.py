"""Dues reconciliation: an organisation subtree's ledger as XLSX or CSV.

One row per ledger entry of the chosen months, then a totals row; the
totals add up to the ledger page (``dues.selectors.organization_ledger``)
to the fen. Amounts are numbers with two places (numeric cells in a
workbook), ID numbers always masked. Encodings, CSV streaming, formula
neutralising and text cells come from the roster export
(``members.exports``), so both downloads behave alike in a spreadsheet.
"""

import datetime
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from dues.models import LedgerEntry
from dues.selectors import ledger_entries
from members.exports import (
    CHUNK_SIZE,
    ENCODINGS,
    FORMATS,
    XLSX_CONTENT_TYPE,
    _xlsx_cell,
    neutralise,
    roster_csv,
)
from members.identity import mask
from members.services import audit_record
from organizations.models import Organization
from organizations.scope import Scope, subtree_q

__all__ = [
    "ENCODINGS",
    "FORMATS",
    "HEADERS",
    "Totals",
    "reconciliation_entries",
    "reconciliation_response",
    "reconciliation_values",
    "year_months",
]

logger = logging.getLogger(__name__)

HEADERS = (
    "收缴组织",
    "组织编码",
    "姓名",
    "身份证号码",
    "月份",
    "状态",
    "应缴金额",
    "已缴金额",
    "未缴金额",
    "自愿多缴",
    "缴纳时间",
    "代收组织",
    "订单号",
    "收据号",
)
TOTALS_LABEL = "合计"
STATUSES = {
    LedgerEntry.Status.DUE: "未缴",
    LedgerEntry.Status.PAID: "已缴",
    LedgerEntry.Status.WAIVED: "减免",
}
SHEET = "党费对账"
MONEY_FORMAT = "0.00"
ZERO = Decimal("0.00")


@dataclass
class Totals:
    """Running sums of the money columns, to the fen."""

    due: Decimal = ZERO
    paid: Decimal = ZERO
    outstanding: Decimal = ZERO
    voluntary: Decimal = ZERO
    rows: int = 0

    def add(self, entry: LedgerEntry) -> None:
        self.due += entry.amount_due or ZERO
        self.paid += entry.paid_amount
        self.outstanding += _outstanding(entry)
        self.voluntary += entry.voluntary_amount
        self.rows += 1


def year_months(year: int) -> list[datetime.date]:
    return [datetime.date(year, month, 1) for month in range(1, 13)]


def reconciliation_entries(
    *, scope: Scope, organization: Organization, months: Sequence[datetime.date]
) -> QuerySet[LedgerEntry]:
    """The live ledger entries of the organisation's subtree in ``months``."""
    # Cancelled months are not owed: the ledger page leaves them out too. So
    # are months the subtree only collected for another organisation (a
    # certificate holder paying at the inflow): that money is the other
    # organisation's, outside the page's totals and on its own export.
    return (
        ledger_entries(scope=scope, organization=organization)
        .filter(subtree_q((organization.path,), field_name="organization__path"))
        .filter(month__in=list(months))
        .exclude(status=LedgerEntry.Status.CANCELLED)
        .select_related("member", "organization", "collected_by", "payment")
        .order_by("organization__path", "member__name", "member_id", "month")
    )


def reconciliation_values(entries: QuerySet[LedgerEntry]) -> Iterator[list[Any]]:
    """Yield the header, a row per entry, then the totals row.

    Money is ``Decimal``; the rest is text.
    """
    yield list(HEADERS)
    totals = Totals()
    for entry in entries.iterator(chunk_size=CHUNK_SIZE):
        totals.add(entry)
        yield _cells(entry)
    yield [
        TOTALS_LABEL,
        "",
        "",
        "",
        "",
        f"{totals.rows}",
        totals.due,
        totals.paid,
        totals.outstanding,
        totals.voluntary,
        "",
        "",
        "",
        "",
    ]


def reconciliation_response(
    *,
    actor,
    scope: Scope,
    organization: Organization,
    months: Sequence[datetime.date],
    file_format: str = "xlsx",
    encoding: str = "utf-8",
) -> StreamingHttpResponse | FileResponse:
    """Send the reconciliation as a download; the export is audited."""
    entries = reconciliation_entries(
        scope=scope, organization=organization, months=months
    )
    rows = entries.count()
    period = _period(months)
    audit_record(
        actor=actor,
        action="dues.ledger.exported",
        organization=organization,
        period=period,
        months=[f"{m:%Y-%m}" for m in months],
        rows=rows,
        format=file_format,
        encoding=encoding,
    )
    logger.info(
        "dues ledger exported actor_id=%s organization_id=%s period=%s rows=%s",
        getattr(actor, "pk", None),
        organization.pk,
        period,
        rows,
    )
    filename = f"dues-{organization.code}-{period}"
    values = reconciliation_values(entries)
    if file_format == "xlsx":
        response = FileResponse(
            _workbook(values),
            as_attachment=True,
            filename=f"{filename}.xlsx",
            content_type=XLSX_CONTENT_TYPE,
        )
    else:
        codec, _prefix = ENCODINGS[encoding]
        response = StreamingHttpResponse(
            roster_csv(_csv_rows(values), encoding=encoding),
            content_type=f"text/csv; charset={codec}",
        )
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"{filename}.csv"
        )
    response["Cache-Control"] = "no-store"
    return response


def _period(months: Sequence[datetime.date]) -> str:
    if len(months) == 1:
        return f"{months[0]:%Y-%m}"
    years = sorted({m.year for m in months})
    return "-".join(str(y) for y in years)


def _outstanding(entry: LedgerEntry) -> Decimal:
    if entry.status != LedgerEntry.Status.DUE or entry.amount_due is None:
        return ZERO
    return entry.amount_due - entry.paid_amount


def _cells(entry: LedgerEntry) -> list[Any]:
    payment = entry.payment
    return [
        entry.organization.name,
        entry.organization.code,
        entry.member.name,
        mask(entry.member.id_number),
        f"{entry.month:%Y-%m}",
        STATUSES.get(entry.status, entry.status),
        entry.amount_due if entry.amount_due is not None else ZERO,
        entry.paid_amount,
        _outstanding(entry),
        entry.voluntary_amount,
        _local(entry.paid_at),
        entry.collected_by.name if entry.collected_by else "",
        payment.reference if payment else "",
        (payment.receipt_number or "") if payment else "",
    ]


def _local(moment: datetime.datetime | None) -> str:
    if moment is None:
        return ""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _csv_rows(values: Iterable[list[Any]]) -> Iterator[list[str]]:
    for row in values:
        yield [
            f"{value:.2f}" if isinstance(value, Decimal) else neutralise(value)
            for value in row
        ]


def _workbook(values: Iterable[list[Any]]) -> IO[bytes]:
    """Write the rows into a workbook in a temporary file, rewound."""
    # The roster's xlsx_file writes numbers without a format; amounts here
    # need two places shown, so the cells are built here, text ones by the
    # roster's helper (text type, formula-safe).
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET)
    for row in values:
        sheet.append([_xlsx_value(sheet, value) for value in row])
    out = tempfile.TemporaryFile()
    try:
        workbook.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def _xlsx_value(sheet: Any, value: Any) -> Any:
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = MONEY_FORMAT
        return cell
    return _xlsx_cell(sheet, value, text=True)
