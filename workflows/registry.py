"""What diagrams may call: Python handlers for service tasks, validators for task forms.

Domain packages register at import time::

    @service_task("plans.publish")
    def publish(instance, params, data):  # runs inside the caller's transaction
        ...
        return {"published_at": ...}      # optional: merged into task data

    @task_form("plans.legal_review")
    def legal_review(data, task, user):   # returns the cleaned data
        ...
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.errors import DomainError
from workflows.scripting import WorkflowScriptError

if TYPE_CHECKING:
    from app.auth.models import User
    from workflows.models import HumanTask, ProcessInstance

ServiceHandler = Callable[["ProcessInstance", dict[str, Any], dict[str, Any]], "dict[str, Any] | None"]
FormValidator = Callable[[dict[str, Any], "HumanTask", "User"], dict[str, Any]]



class FormNotRegistered(DomainError):
    """A human task whose formKey has no validator: refused rather than accepted unchecked."""

    status_code = 500


_SERVICE_HANDLERS: dict[str, ServiceHandler] = {}
_FORM_VALIDATORS: dict[str, FormValidator] = {}


def service_task(name: str) -> Callable[[ServiceHandler], ServiceHandler]:
    """Register the handler of ``<spiffworkflow:serviceTaskOperator id="name">``.

    The handler gets ``(instance, params, data)``: the ProcessInstance, the evaluated
    parameters, and a read-only view of the task data. It runs in the same database
    transaction as the step that reached it; raising aborts the whole step.
    """

    def decorator(func: ServiceHandler) -> ServiceHandler:
        existing = _SERVICE_HANDLERS.get(name)
        if existing is not None and existing is not func:
            raise ValueError(f"service task {name!r} is already registered")
        _SERVICE_HANDLERS[name] = func
        return func

    return decorator


def task_form(form_key: str) -> Callable[[FormValidator], FormValidator]:
    """Register the validator for user tasks whose ``formKey`` property is ``form_key``.

    ``validator(data, task, user)`` returns the cleaned data merged into the workflow,
    or raises app.errors.ValidationFailed.
    """

    def decorator(func: FormValidator) -> FormValidator:
        existing = _FORM_VALIDATORS.get(form_key)
        if existing is not None and existing is not func:
            raise ValueError(f"task form {form_key!r} is already registered")
        _FORM_VALIDATORS[form_key] = func
        return func

    return decorator


def get_service_handler(name: str) -> ServiceHandler:
    """The handler registered for ``name``; a clear error instead of spiff's NameError."""
    try:
        return _SERVICE_HANDLERS[name]
    except KeyError:
        raise WorkflowScriptError(f"no handler registered for service task {name!r}") from None


def is_service_registered(name: str) -> bool:
    """Whether a handler is registered for the service operator ``name``."""
    return name in _SERVICE_HANDLERS


def get_form_validator(form_key: str) -> FormValidator | None:
    """The validator registered for ``form_key``, or None."""
    return _FORM_VALIDATORS.get(form_key)
