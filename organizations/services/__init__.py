"""Transfers of the membership relationship (组织关系转接).

A transfer is one letter (介绍信) moving through the states of
:data:`TRANSITIONS`. Every step locks the transfer row, checks the state
again inside its transaction, and records a TransferEvent and an audit row.
Only completion (报到) moves the membership, in the same transaction.

Split by sub-domain: ``letters`` (a letter's path up to acceptance, and
reissue), ``completion`` (报到 and the receipt), ``jobs`` (nightly),
``bulk`` (whole organisations); ``_common`` holds the errors, the table of
legal moves, authorisation, locking and event recording. Import from this
package, not its modules.
"""

from organizations.services._common import (
    MOVABLE_STATUSES,
    TRANSITIONS,
    Side,
    State,
    TransferStateError,
    dues_required_through,
    is_legal,
)
from organizations.services._common import age_on as _age  # noqa: F401 - for tests
from organizations.services.bulk import transfer_bulk_move
from organizations.services.completion import (
    transfer_receipt_return,
    transfer_report,
)
from organizations.services.jobs import transfer_activate_due, transfer_expire_due
from organizations.services.letters import (
    mobility_convert_to_transfer,
    transfer_accept,
    transfer_create,
    transfer_issue,
    transfer_register_incoming,
    transfer_reissue,
    transfer_return,
    transfer_withdraw,
)

__all__ = [
    "MOVABLE_STATUSES",
    "TRANSITIONS",
    "Side",
    "State",
    "TransferStateError",
    "dues_required_through",
    "is_legal",
    "mobility_convert_to_transfer",
    "transfer_accept",
    "transfer_activate_due",
    "transfer_bulk_move",
    "transfer_create",
    "transfer_expire_due",
    "transfer_issue",
    "transfer_receipt_return",
    "transfer_register_incoming",
    "transfer_reissue",
    "transfer_report",
    "transfer_return",
    "transfer_withdraw",
]
