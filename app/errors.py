"""Domain errors shared by services; views and the API turn them into responses."""
from __future__ import annotations


class DomainError(Exception):
    """Base of errors a user can be told about."""

    status_code = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(DomainError):
    """Input that breaks a rule; ``errors`` maps a field (or row) to its messages."""

    status_code = 422

    def __init__(self, errors: dict[str, list[str]] | str) -> None:
        if isinstance(errors, str):
            errors = {"_": [errors]}
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    """The action lost a race or the object is no longer in a state that allows it."""

    status_code = 409
