"""What a task is about: each domain package registers how to show its subjects.

The queue is generic; it must not import the plans, draws or cases packages, so
they register here instead (dependency points from the domain to the queue).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SubjectKind:
    label: str
    template: str  # included on the task page with the loader's context
    endpoint: str  # the subject's own page, called with url_param=subject_id
    url_param: str
    loader: Callable[[int], dict[str, Any]]


_KINDS: dict[str, SubjectKind] = {}


def register_subject(subject_type: str, kind: SubjectKind) -> None:
    _KINDS[subject_type] = kind


def subject_kind(subject_type: str) -> SubjectKind | None:
    return _KINDS.get(subject_type)
