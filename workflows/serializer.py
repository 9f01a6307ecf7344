"""Lean instance serialization: the spec is stored once, instances refer to it.

SpiffWorkflow's default converter embeds the whole spec in every serialized
instance (SPIFF-NOTES: more than half of its size). ``LeanWorkflowConverter``
writes only the instance's own state; the spec is handed back on restore from
the ``process_spec`` row the instance references.
"""
from __future__ import annotations

import hashlib
import json
import threading
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.workflow import VERSION
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

SubprocessSpecs = dict[str, BpmnProcessSpec]


class LeanWorkflowConverter(BpmnWorkflowConverter):
    """A BpmnWorkflow without its spec; ``from_dict`` takes the spec as keyword arguments."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(  # type: ignore[override]
        self, dct: dict[str, Any], spec: BpmnProcessSpec | None = None, subprocess_specs: SubprocessSpecs | None = None
    ) -> BpmnWorkflow:
        if spec is None:
            raise ValueError("a lean workflow needs its spec to be restored")
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _data_registry() -> DefaultRegistry:
    """Conversions for task-data values beyond JSON (datetime/timedelta are built in)."""
    registry = DefaultRegistry()
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
    # ``typenames`` is keyed by exact class, so this does not capture datetime.
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]))
    return registry


def _make_serializer(lean: bool) -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    if lean:
        config[BpmnWorkflow] = LeanWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config, _data_registry()))


# One serializer per thread: ``serialize_json`` flips a flag on its registry while it runs,
# so a serializer shared between request threads could switch another thread's mode.
_local = threading.local()


def _lean() -> BpmnWorkflowSerializer:
    serializer = getattr(_local, "lean", None)
    if serializer is None:
        serializer = _local.lean = _make_serializer(lean=True)
    return serializer


def serialize_instance(workflow: BpmnWorkflow) -> str:
    """The instance's state as JSON, without its spec."""
    return _lean().serialize_json(workflow)


def serialize_full(workflow: BpmnWorkflow) -> str:
    """SpiffWorkflow's default form, spec included: for size comparisons and debugging only."""
    serializer = getattr(_local, "full", None)
    if serializer is None:
        serializer = _local.full = _make_serializer(lean=False)
    return serializer.serialize_json(workflow)


def restore_instance(state: str, spec: BpmnProcessSpec, subprocess_specs: SubprocessSpecs) -> BpmnWorkflow:
    """Rebuild an instance from ``state`` with the spec it was started with.

    The caller sets ``script_engine`` afterwards: it is not part of the state.
    """
    serializer = _lean()
    dct = json.loads(state)
    version = dct.pop(serializer.VERSION_KEY, None)
    if version != VERSION:
        # Spiff's migrations expect the embedded spec; states of an older format need a
        # migration of our own first.
        raise ValueError(f"instance state has serializer version {version!r}, expected {VERSION!r}")
    return serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)


def serialize_spec(spec: BpmnProcessSpec, subprocess_specs: SubprocessSpecs) -> str:
    """A canonical JSON form of a spec and its sub-process specs (sorted keys, so hashable)."""
    serializer = _lean()
    dct = {
        "spec": serializer.to_dict(spec),
        "subprocess_specs": {name: serializer.to_dict(sub) for name, sub in sorted(subprocess_specs.items())},
    }
    return json.dumps(dct, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(serialized: str) -> str:
    """sha256 of a serialized spec: the identity of a spec version."""
    return hashlib.sha256(serialized.encode("utf-8")).hexdigest()


def restore_spec(serialized: str) -> tuple[BpmnProcessSpec, SubprocessSpecs]:
    """The spec and sub-process specs from ``serialize_spec`` output."""
    serializer = _lean()
    dct = json.loads(serialized)
    spec = serializer.from_dict(dct["spec"])
    subprocess_specs = {name: serializer.from_dict(sub) for name, sub in dct["subprocess_specs"].items()}
    return spec, subprocess_specs
