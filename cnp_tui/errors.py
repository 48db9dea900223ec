"""The CnpError hierarchy.

Every error a user can meet is a ``CnpError`` whose message says what was wrong and how to fix
it; the CLI prints it as one sentence on stderr and exits with ``exit_code``. Anything else that
reaches the top level is a bug.
"""

from __future__ import annotations


class CnpError(Exception):
    """Base class of every user-facing error."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class InvalidInputError(CnpError):
    """Input that does not validate: a field, what was wrong, how to fix it."""

    exit_code = 2


class NotFoundError(CnpError):
    """A prompt, job or execution that does not exist."""

    exit_code = 3


class AmbiguousReferenceError(CnpError):
    """A JOB reference (id prefix) that matches more than one job."""

    exit_code = 2


class ConflictError(CnpError):
    """A change refused because of existing state (duplicate name, prompt in use...)."""

    exit_code = 4


class EngineAlreadyRunningError(CnpError):
    """Another engine holds the lease on this database."""

    exit_code = 4


class DatabaseError(CnpError):
    """The database file cannot be used (not a cnp database, newer schema, corrupt)."""

    exit_code = 5


class ConfigError(CnpError):
    """The config file does not parse or does not validate."""

    exit_code = 2
    problems: list[str] | None = None  # one entry per bad key, when validation found several


class ClaudeNotFoundError(CnpError):
    """The claude executable could not be resolved."""

    exit_code = 6


class WorkingDirectoryError(CnpError):
    """A job's working directory does not exist or is not a directory."""

    exit_code = 6


class UsageLimitReachedError(CnpError):
    """Claude's usage limit is in force; exit code 75 (EX_TEMPFAIL) tells scripts to try later."""

    exit_code = 75
