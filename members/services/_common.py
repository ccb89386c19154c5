"""What every member service shares: the audit row and the write guard."""

from typing import Any

from members.models import AuditEvent, Member, User
from organizations.models import Organization
from organizations.scope import OutOfScope, ReadOnlyScope, Scope


def audit_record(
    *,
    actor: User | None,
    action: str,
    member: Member | None = None,
    organization: Organization | None = None,
    **details: Any,
) -> AuditEvent:
    """Write one audit row; call inside the transaction of the action."""
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        member=member,
        organization=organization,
        details=details,
    )


def require_write(scope: Scope, organization: Organization | None) -> None:
    if organization is None or not scope.reads(organization):
        raise OutOfScope()
    if not scope.writes(organization):
        raise ReadOnlyScope()
