"""The spec library: diagrams parsed once at startup, and spec versions in ``process_spec``.

Every ``*.bpmn`` file is parsed with XSD validation, and every executable process
is checked (lanes name roles, human tasks have a form key, diagram code passes
the script allow-list) so that a bad diagram stops the application at startup
with its file and line rather than failing later on a user's click.

A spec version is identified by the sha256 of its canonical serialization. Its
row is written lazily on first use, and an instance keeps referring to that row:
after the diagram changes, old instances restore with the spec they started with.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from app.auth.roles import Role
from app.errors import NotFound
from workflows.models import ProcessSpec
from workflows.properties import PropertyError, TaskProperties
from workflows.scripting import WorkflowScriptError, check_expression, check_script
from workflows.serializer import SubprocessSpecs, restore_spec, serialize_spec, spec_hash

EXTENSION_KEY = "suiji.workflows"
_ROLES = frozenset(r.value for r in Role)


class DiagramError(Exception):
    """A diagram that cannot be run; the message names the file and, when known, the line."""


@dataclass(frozen=True)
class LoadedSpec:
    """A parsed process ready to start instances."""

    process_id: str
    spec: BpmnProcessSpec
    subprocess_specs: SubprocessSpecs
    serialized: str
    content_hash: str
    source_file: str
    # The file's XML as parsed: stored on the spec row so that traces draw this version.
    bpmn_xml: str = ""


class SpecLibrary:
    """Parsed specs by process id, and spec versions by content hash, for one app."""

    def __init__(self, specs: dict[str, LoadedSpec]) -> None:
        self.specs = specs
        self._versions: dict[str, tuple[BpmnProcessSpec, SubprocessSpecs]] = {
            s.content_hash: (s.spec, s.subprocess_specs) for s in specs.values()
        }
        # content hash -> process_spec.id, only for rows known to be committed (see spec_row_id).
        self._row_ids: dict[str, int] = {}
        self._lock = threading.Lock()

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def from_dirs(cls, dirs: Iterable[Path]) -> SpecLibrary:
        """Parse every ``*.bpmn`` file under ``dirs`` (one parser, so call activities resolve)."""
        parser = SpiffBpmnParser(validator=VALIDATOR)
        for directory in dirs:
            for path in sorted(Path(directory).glob("*.bpmn")):
                try:
                    parser.add_bpmn_file(str(path))
                except ValidationException as exc:
                    raise DiagramError(_located(exc, path)) from exc
                except Exception as exc:  # lxml syntax errors carry their own position
                    raise DiagramError(f"{path}: {exc}") from exc
        specs: dict[str, LoadedSpec] = {}
        for process_id in parser.get_process_ids():
            source = parser.get_process_parser(process_id).filename or "?"
            try:
                spec = parser.get_spec(process_id)
                subprocess_specs = parser.get_subprocess_specs(process_id)
            except ValidationException as exc:
                raise DiagramError(_located(exc, source)) from exc
            except SpiffWorkflowException as exc:
                raise DiagramError(f"{source}: process {process_id!r}: {exc}") from exc
            for checked in (spec, *subprocess_specs.values()):
                _check_spec(checked, source)
                # Only the base name: the checkout's location must not change the content hash.
                checked.file = Path(checked.file).name if checked.file else checked.file
            serialized = serialize_spec(spec, subprocess_specs)
            specs[process_id] = LoadedSpec(
                process_id, spec, subprocess_specs, serialized, spec_hash(serialized), str(source),
                _read_xml(source),
            )
        return cls(specs)

    def get(self, process_id: str) -> LoadedSpec:
        """The current spec of ``process_id``."""
        try:
            return self.specs[process_id]
        except KeyError:
            raise NotFound(f"no process {process_id!r} among the loaded diagrams") from None

    def missing_registrations(self) -> dict[str, list[str]]:
        """formKeys and service operators used by the diagrams but registered by nobody.

        Meant for a test of the real diagrams: at runtime an unregistered form is refused
        and an unregistered service fails its step.
        """
        from workflows.registry import get_form_validator, is_service_registered

        forms: set[str] = set()
        services: set[str] = set()
        for loaded in self.specs.values():
            for spec in (loaded.spec, *loaded.subprocess_specs.values()):
                for task_spec in spec.task_specs.values():
                    if getattr(task_spec, "bpmn_id", None) is None:
                        continue
                    if task_spec.manual:
                        form_key = TaskProperties.of(task_spec).form_key
                        if get_form_validator(form_key) is None:
                            forms.add(form_key)
                    name = getattr(task_spec, "operation_name", None)
                    if name is not None and not is_service_registered(name):
                        services.add(name)
        return {"forms": sorted(forms), "services": sorted(services)}

    def clear(self) -> None:
        """Forget cached row ids (after a test wipes the tables)."""
        with self._lock:
            self._row_ids.clear()

    # --- spec rows ----------------------------------------------------------------------

    def spec_row_id(self, session: Session, loaded: LoadedSpec) -> int:
        """The process_spec row of ``loaded``, inserted on first use.

        The id is cached per app once the row is known to be committed: found by a
        SELECT that this transaction's own insert cannot explain. A row inserted by
        the current transaction is cached only for that transaction, because a
        rollback would take it away again.
        """
        row_id = self._row_ids.get(loaded.content_hash)
        if row_id is not None:
            return row_id
        tx = session.get_transaction()
        pending: tuple[Any, dict[str, int]] | None = session.info.get(EXTENSION_KEY)
        if pending is not None and pending[0] is tx and loaded.content_hash in pending[1]:
            return pending[1][loaded.content_hash]
        row_id = session.scalar(select(ProcessSpec.id).where(ProcessSpec.content_hash == loaded.content_hash))
        if row_id is not None:
            with self._lock:
                self._row_ids[loaded.content_hash] = row_id
            return row_id
        row_id = self._insert_row(session, loaded)
        tx = session.get_transaction()
        if pending is None or pending[0] is not tx:
            pending = (tx, {})
            session.info[EXTENSION_KEY] = pending
        pending[1][loaded.content_hash] = row_id
        return row_id

    @staticmethod
    def _insert_row(session: Session, loaded: LoadedSpec) -> int:
        row = ProcessSpec(
            process_id=loaded.process_id,
            content_hash=loaded.content_hash,
            serialized=loaded.serialized,
            source_file=Path(loaded.source_file).name,
            bpmn_xml=loaded.bpmn_xml or None,
        )
        try:
            with session.begin_nested():  # another worker may insert the same version now
                session.add(row)
        except IntegrityError:
            row_id = session.scalar(select(ProcessSpec.id).where(ProcessSpec.content_hash == loaded.content_hash))
            if row_id is None:
                raise
            return row_id
        return row.id

    def version(self, session: Session, spec_id: int, content_hash: str) -> tuple[BpmnProcessSpec, SubprocessSpecs]:
        """The spec an instance started with, from memory or else from its row."""
        found = self._versions.get(content_hash)
        if found is not None:
            return found
        serialized = session.scalar(select(ProcessSpec.serialized).where(ProcessSpec.id == spec_id))
        if serialized is None:
            raise NotFound(f"process spec {spec_id} is missing")
        found = restore_spec(serialized)
        with self._lock:
            self._versions[content_hash] = found
        return found


def _read_xml(source: str) -> str:
    """The diagram file's text, or "" when the parser did not say which file it was."""
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return ""


def library() -> SpecLibrary:
    """The current app's spec library."""
    return current_app.extensions[EXTENSION_KEY]


# --- checks -------------------------------------------------------------------------------


def _located(exc: ValidationException, path: Any) -> str:
    file_name = getattr(exc, "file_name", "") or str(path)
    line = getattr(exc, "line_number", "")
    where = f"{file_name}:{line}" if line else file_name
    element = getattr(exc, "id", "") or ""
    return f"{where}: {element + ': ' if element else ''}{exc}"


def _check_spec(spec: BpmnProcessSpec, source: str) -> None:
    for task_spec in spec.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            continue  # internal spec (start/end bookkeeping): nothing authored
        where = f"{source}: {spec.name}/{bpmn_id}"
        try:
            if task_spec.manual:
                _check_human_task(task_spec)
            _check_service_task(task_spec)
            _check_code(task_spec)
        except (PropertyError, WorkflowScriptError) as exc:
            raise DiagramError(f"{where}: {exc}") from exc


def _check_human_task(task_spec: Any) -> None:
    lane = task_spec.lane
    if lane not in _ROLES:
        raise PropertyError(f"a human task must sit in a lane named after a role (one of {sorted(_ROLES)}), not {lane!r}")
    if not TaskProperties.of(task_spec).form_key:
        raise PropertyError("a human task needs a formKey property")


def _check_service_task(task_spec: Any) -> None:
    result_variable = getattr(task_spec, "result_variable", None)
    if result_variable is not None and not result_variable.startswith("spiff__"):
        raise PropertyError(
            "resultVariable is not supported: a service handler returns a dict that is merged into the task data"
        )


def _check_code(task_spec: Any) -> None:
    """Run every piece of diagram code we know of through the allow-list."""
    for attr in ("script", "prescript", "postscript"):
        source = getattr(task_spec, attr, None)
        if source:
            check_script(source)
    for condition, _ in getattr(task_spec, "cond_task_specs", ()):
        if condition is not None and getattr(condition, "args", None):
            check_expression(condition.args[0])
    for param in (getattr(task_spec, "operation_params", None) or {}).values():
        check_expression(param["value"])
    for attr in ("cardinality", "condition"):
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source:
            check_expression(source)
    event_definition = getattr(task_spec, "event_definition", None)
    expression = getattr(event_definition, "expression", None)
    if isinstance(expression, str) and expression:
        check_expression(expression)
