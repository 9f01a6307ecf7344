"""Domain errors shared by services; views and the API turn them into responses.

Messages may be lazy translations (``app.i18n.lazy_text``): an error keeps them as
they are and they become text only when shown, in the language of the page, or in
English for the API. ``message`` and ``messages()`` give plain ``str``.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of errors a user can be told about."""

    status_code = 400

    def __init__(self, message: Any = "") -> None:
        super().__init__(message)
        self._message = message

    @property
    def message(self) -> str:
        """The message as text in the current language."""
        return str(self._message)


class ValidationFailed(DomainError):
    """Input that breaks a rule; ``errors`` maps a field (or row) to its messages (possibly lazy)."""

    status_code = 422

    def __init__(self, errors: dict[str, list[Any]] | Any) -> None:
        if not isinstance(errors, dict):
            errors = {"_": [errors]}
        self.errors = errors
        super().__init__("")

    @property
    def message(self) -> str:
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in self.messages().items())

    def messages(self) -> dict[str, list[str]]:
        """``errors`` with every message as text in the current language."""
        return {field: [str(m) for m in messages] for field, messages in self.errors.items()}

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    """The action lost a race or the object is no longer in a state that allows it."""

    status_code = 409
