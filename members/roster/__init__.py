"""Roster import: files people keep in Excel, checked row by row, then written.

The API for every caller (admin upload, Celery task, management command)::

    from members import roster

    report = roster.preview(file=f, organization=org, actor=user)
    report = roster.commit(file=f, organization=org, actor=user,
                           all_or_nothing=False)

``file`` is a path or a binary file object (an upload); the format (XLSX,
XLS, CSV in UTF-8/GBK/GB18030) is read from the content. ``preview`` writes
nothing; ``commit`` checks the same file again inside one transaction and
writes its valid rows (none at all when ``all_or_nothing`` and any row
fails), so a crash or killed worker leaves the database as it was. Both
check the actor's scope first: :class:`~organizations.scope.OutOfScope`
(404) when the organisation is out of reach, ``ReadOnlyScope`` (403) for a
read-only role. ``actor=None`` means the operator's command line and is
audited as such. An optional ``progress(stage, done)`` callback hears
``("check", rows)`` every 1,000 rows and ``("write", rows)`` after each
batch written, for a progress bar.

Both return an :class:`ImportReport`: ``rows``, ``valid``, ``imported``,
``unchanged`` (row numbers already stored identically), ``errors`` and
``warnings`` (lists of :class:`Issue`: row, column as written in the file,
stable code, value as given, message), ``records`` (the valid rows) and
``as_dict()`` for JSON. A file refused as a whole raises
:class:`RosterFileError` with a stable ``code``. The codes are listed in
``docs/roster-import.md``.

Inside: ``reader`` (files to numbered rows), ``columns`` (header row and
Chinese header names), ``values`` (dates, names, ID numbers as typed),
``addresses`` (address text to county codes), ``codes`` (code tables),
``rows`` (one row to a record or its issues), ``report`` and ``importer``
(duplicates against the database, the transaction, the audit).
"""

from members.roster.importer import commit, preview
from members.roster.reader import RosterFileError
from members.roster.report import ImportReport, Issue, Record

__all__ = [
    "ImportReport",
    "Issue",
    "Record",
    "RosterFileError",
    "commit",
    "preview",
]
