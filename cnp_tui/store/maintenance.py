"""Database maintenance: online backup and VACUUM.

Both use the standard ``sqlite3`` module on their own connection. The backup goes through
SQLite's online backup API, which copies a consistent snapshot page by page while an engine keeps
writing (in WAL mode readers never block the writer), so ``cnp db backup`` is safe at any time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cnp_tui.errors import DatabaseError, InvalidInputError

BUSY_TIMEOUT_MS = 30_000
PAGES_PER_STEP = 1024  # copy in slices so the engine's writes are never held up for long


@dataclass(frozen=True)
class BackupResult:
    """A finished backup: where, how big, and how many jobs and executions it holds."""

    path: Path
    size_bytes: int
    jobs: int
    executions: int


def _connect(database: Path) -> sqlite3.Connection:
    if not database.is_file():
        raise DatabaseError(
            f"no database at {database}", hint="check --home / CNP_HOME, or start cnp once"
        )
    connection = sqlite3.connect(database, timeout=BUSY_TIMEOUT_MS / 1000)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return connection


def backup_database(database: Path, target: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy ``database`` to ``target`` with the online backup API (safe while an engine runs)."""
    target = target.expanduser()
    if target.resolve() == database.resolve():
        raise InvalidInputError("the backup file is the database itself: give another path")
    if target.exists() and not overwrite:
        raise InvalidInputError(
            f"{target} exists", hint="give a new file name, or --force to overwrite it"
        )
    if not target.parent.is_dir():
        raise InvalidInputError(f"directory {target.parent} does not exist")
    partial = target.with_name(target.name + ".partial")
    source = _connect(database)
    try:
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy, pages=PAGES_PER_STEP)
            # A standalone file: no WAL beside it, whatever mode the source runs in.
            copy.execute("PRAGMA journal_mode = DELETE")
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise DatabaseError(f"the backup failed its integrity check: {check}")
            jobs = copy.execute("SELECT count(*) FROM jobs").fetchone()[0]
            executions = copy.execute("SELECT count(*) FROM executions").fetchone()[0]
        finally:
            copy.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise DatabaseError(f"backup of {database} failed: {exc}") from None
    finally:
        source.close()
    partial.replace(target)  # atomic: a reader never sees half a backup under the real name
    return BackupResult(target, target.stat().st_size, jobs, executions)


def vacuum_database(database: Path) -> tuple[int, int]:
    """Rebuild the database file to reclaim free pages; returns (bytes before, bytes after)."""
    connection = _connect(database)
    before = _size(database)
    try:
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:
        raise DatabaseError(
            f"vacuum of {database} failed: {exc}",
            hint="the engine may be busy writing; try again, or stop it first",
        ) from None
    finally:
        connection.close()
    return before, _size(database)


def _size(database: Path) -> int:
    wal = database.with_name(database.name + "-wal")
    return database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
