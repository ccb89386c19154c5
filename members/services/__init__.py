"""Writes to member records, shared by admin, portal, API, imports, jobs.

Split by sub-domain: ``records`` (the record itself and corrections),
``mobility`` (stays away), ``contacts`` (contact log, lost contact) and
``surveys`` (yearly reports, needs surveys); ``_common`` holds the audit
row and the write guard. Import from this package, not its modules.
"""

from members.services._common import audit_record
from members.services.contacts import (
    contact_log_record,
    member_mark_found,
    member_mark_lost,
)
from members.services.mobility import (
    MobilityStateError,
    mobility_accept,
    mobility_certificate_issue,
    mobility_close_for_transfer,
    mobility_confirm,
    mobility_decline,
    mobility_move_on,
    mobility_register,
    mobility_report,
    mobility_return,
)
from members.services.records import (
    ADULT_AGE,
    CORRECTABLE_FIELDS,
    Identity,
    correction_request_create,
    correction_request_decide,
    eighteenth_birthday,
    id_number_reveal,
    member_create,
    member_update,
    validate_record,
)
from members.services.surveys import survey_answer, survey_publish, yearly_report_file

__all__ = [
    "ADULT_AGE",
    "CORRECTABLE_FIELDS",
    "Identity",
    "MobilityStateError",
    "audit_record",
    "contact_log_record",
    "correction_request_create",
    "correction_request_decide",
    "eighteenth_birthday",
    "id_number_reveal",
    "member_create",
    "member_mark_found",
    "member_mark_lost",
    "member_update",
    "mobility_accept",
    "mobility_certificate_issue",
    "mobility_close_for_transfer",
    "mobility_confirm",
    "mobility_decline",
    "mobility_move_on",
    "mobility_register",
    "mobility_report",
    "mobility_return",
    "survey_answer",
    "survey_publish",
    "validate_record",
    "yearly_report_file",
]
