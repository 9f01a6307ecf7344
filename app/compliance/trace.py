"""The trace of a plan, draw, case or referral: every step of its processes and the path drawn.

For each process instance of the subject a trace holds

* the timeline: one row per ``process_event`` (element, who, when, what changed, comments);
* the element states to mark on the diagram: completed, active (READY human tasks, waiting
  timers and events, running multi-instance or sub-process activities) and cancelled;
* the sequence flows taken, and how many times each element was passed;
* the BPMN XML of the diagram version the instance ran (kept on its ``process_spec`` row).

How the flows taken are found. The events alone say which elements completed and in what
order, but not which flow led into an element: with a loop, parallel branches or a join,
"the previous event" is not the source. The engine knows: SpiffWorkflow keeps every task
it reached in the instance's task tree (loop passes are new tasks, not reused ones), and a
task's parent is the task that produced it. So the nearest ancestor with a ``bpmn_id`` of
each reached task is the element the token came from (internal specs such as a boundary
event split have no ``bpmn_id`` and are skipped), and the diagram's ``sequenceFlow`` with
that source and target is the flow taken. Pairs with no such flow are not flows: a
multi-instance container and its instances, a task and its boundary events. Predicted
tasks (FUTURE, LIKELY, MAYBE) were not reached and give nothing.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from lxml import etree
from sqlalchemy import select
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from app.auth.models import User
from app.compliance.subjects import SUBJECT_TYPES, SubjectRef, related_subjects, subject_title
from app.directory.service import Page, paginate
from app.errors import NotFound
from app.extensions import db
from workflows.models import ProcessEvent, ProcessInstance, ProcessSpec
from workflows.engine import instance_path
from workflows.serializer import restore_instance
from workflows.specs import library

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# Data keys that carry a person's words: shown as comments rather than as changed values.
_COMMENT_KEY = re.compile(r"(^|_)(comments?|reasons?|notes?)$")
# Containers of loop and multi-instance passes: their passes are counted, not the container.
_CONTAINER_TYPES = frozenset({"ParallelMultiInstanceTask", "SequentialMultiInstanceTask", "StandardLoopTask"})
_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
_REACHED = _ACTIVE | TaskState.COMPLETED


@dataclass(frozen=True)
class TimelineRow:
    """One recorded step: an element completed, cancelled or started."""

    at: datetime
    bpmn_id: str
    element_name: str
    element_type: str
    event: str
    user_id: int | None
    user_name: str | None
    changes: dict[str, Any]
    comments: dict[str, str]


@dataclass
class InstanceTrace:
    """One process instance of the subject, with what its diagram should show."""

    instance_id: int
    process_id: str
    status: str
    started_at: datetime
    completed_at: datetime | None
    spec_id: int
    content_hash: str
    source_file: str
    diagram_xml: str | None  # None: no XML is known for this spec version
    diagram_from: str  # "stored": the spec row's own XML; "current": today's identical version; ""
    timeline: list[TimelineRow] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    flows_taken: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # element -> times passed
    flow_counts: dict[str, int] = field(default_factory=dict)  # flow -> times taken
    tree_restored: bool = True  # False: states come from the events alone and no flows are known


@dataclass
class Trace:
    """The subject and every process instance it has had, oldest first."""

    subject_type: str
    subject_id: int
    title: str
    instances: list[InstanceTrace]
    related: list[SubjectRef]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601 in UTC)."""
        return _jsonable(asdict(self))


def build_trace(subject_type: str, subject_id: int) -> Trace:
    """The trace of a subject; raises NotFound for an unknown kind or subject."""
    title = subject_title(subject_type, subject_id)
    if title is None:
        raise NotFound(f"no {subject_type} {subject_id}")
    rows = db.session.execute(
        select(ProcessInstance, ProcessSpec)
        .join(ProcessSpec, ProcessSpec.id == ProcessInstance.spec_id)
        .where(ProcessInstance.subject_type == subject_type, ProcessInstance.subject_id == subject_id)
        .order_by(ProcessInstance.started_at, ProcessInstance.id)
    ).all()
    instances = [_instance_trace(instance, spec) for instance, spec in rows]
    return Trace(subject_type, subject_id, title, instances, related_subjects(subject_type, subject_id))


def list_instances(subject_type: str | None, *, page: int, per_page: int = 50) -> Page[ProcessInstance]:
    """Process instances of traceable subjects, most recently changed first."""
    kinds = [subject_type] if subject_type else list(SUBJECT_TYPES)
    return paginate(
        ProcessInstance, [ProcessInstance.subject_type.in_(kinds)],
        [ProcessInstance.updated_at.desc(), ProcessInstance.id.desc()], page, per_page,
    )


# --- one instance -----------------------------------------------------------------------------


def _instance_trace(instance: ProcessInstance, spec: ProcessSpec) -> InstanceTrace:
    xml, xml_from = _diagram_xml(spec)
    trace = InstanceTrace(
        instance_id=instance.id, process_id=instance.process_id, status=instance.status,
        started_at=instance.started_at, completed_at=instance.completed_at, spec_id=spec.id,
        content_hash=spec.content_hash, source_file=spec.source_file, diagram_xml=xml, diagram_from=xml_from,
    )
    events = instance_path(instance.id)
    trace.timeline = _timeline(events)
    completed = {e.bpmn_id for e in events if e.event == "completed"}
    cancelled = {e.bpmn_id for e in events if e.event == "cancelled"}
    active: set[str] = set()
    # Times passed: the token went through (a completed pass) or waits there now (an active one).
    passes = Counter(e.bpmn_id for e in events if e.event == "completed" and e.element_type not in _CONTAINER_TYPES)
    workflow = _restore(instance, spec)
    if workflow is None:
        trace.tree_restored = False
    else:
        tree = tree_states(workflow)
        completed |= tree.completed
        cancelled |= tree.cancelled
        active = tree.active
        passes.update(tree.active_passes)
        taken = flows_taken(tree, xml) if xml else Counter[str]()
        trace.flows_taken = sorted(taken)
        trace.flow_counts = dict(sorted(taken.items()))
    # A multi-instance over an empty collection completes with no passes: it was still passed once.
    trace.counts = {bpmn_id: max(passes.get(bpmn_id, 0), 1) for bpmn_id in sorted(completed | active)}
    trace.completed = sorted(completed)
    trace.active = sorted(active)
    trace.cancelled = sorted(cancelled)
    return trace


def _timeline(events: list[ProcessEvent]) -> list[TimelineRow]:
    user_ids = {e.user_id for e in events if e.user_id is not None}
    names: dict[int, str] = (
        dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).tuples().all())
        if user_ids else {}
    )
    rows = []
    for e in events:
        data = e.data or {}
        comments = {k: v for k, v in data.items() if _COMMENT_KEY.search(k) and isinstance(v, str) and v.strip()}
        changes = {k: v for k, v in data.items() if k not in comments}
        rows.append(TimelineRow(
            at=e.at, bpmn_id=e.bpmn_id, element_name=e.element_name, element_type=e.element_type, event=e.event,
            user_id=e.user_id, user_name=names.get(e.user_id) if e.user_id is not None else None,
            changes=changes, comments=comments,
        ))
    return rows


def _diagram_xml(spec: ProcessSpec) -> tuple[str | None, str]:
    """The XML of the version the instance ran.

    Rows stored before the XML was kept have none; today's file is used only when it parses
    to this very version (same content hash), so an old instance is never drawn on a
    changed diagram.
    """
    if spec.bpmn_xml:
        return spec.bpmn_xml, "stored"
    for loaded in library().specs.values():
        if loaded.content_hash == spec.content_hash and loaded.bpmn_xml:
            return loaded.bpmn_xml, "current"
    return None, ""


def _restore(instance: ProcessInstance, spec: ProcessSpec) -> BpmnWorkflow | None:
    """The instance's workflow as last saved, or None when its state cannot be read any more."""
    if not instance.state:
        return None
    try:
        process_spec, subprocess_specs = library().version(db.session(), spec.id, spec.content_hash)
        return restore_instance(instance.state, process_spec, subprocess_specs)
    except (ValueError, KeyError, TypeError):  # a state of an older serializer format
        return None


@dataclass
class TreeStates:
    """What an instance's task tree says: element states and where each token came from."""

    completed: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    active_passes: Counter[str] = field(default_factory=Counter)  # loop containers left out
    arrivals: list[tuple[str, str]] = field(default_factory=list)  # (source element, target element)


def tree_states(workflow: BpmnWorkflow) -> TreeStates:
    """Element states and the (source, target) of every arrival, from the task tree(s)."""
    found = TreeStates()
    # Sub-processes and call activities into a process of the same file are drawn by the same
    # XML (ids are unique within a file); a process called from another file is not, and its
    # ids could name unrelated elements here, so its tasks are left out.
    main_file = getattr(workflow.spec, "file", None)
    trees = [workflow, *(sub for sub in workflow.subprocesses.values() if getattr(sub.spec, "file", None) == main_file)]
    for tree in trees:
        for task in tree.tasks.values():
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if bpmn_id is None or not _reached(task):
                continue
            if task.state == TaskState.COMPLETED:
                found.completed.add(bpmn_id)
            elif task.state == TaskState.CANCELLED:
                found.cancelled.add(bpmn_id)
            else:
                found.active.add(bpmn_id)
                if not isinstance(task.task_spec, LoopTask):
                    found.active_passes[bpmn_id] += 1
            source = _source_of(task)
            if source is not None:
                found.arrivals.append((source, bpmn_id))
    return found


def flows_taken(tree: TreeStates, xml: str) -> Counter[str]:
    """How many times each sequence flow of the diagram ``xml`` was taken (see the module docstring)."""
    flows = _flows_by_ends(xml)
    taken = Counter[str]()
    for pair in tree.arrivals:
        for flow_id in flows.get(pair, ()):
            taken[flow_id] += 1
    return taken


def _reached(task: Task) -> bool:
    """Whether the token got to the task (not merely predicted).

    A cancelled task was reached when its parent had completed: a waiting boundary timer
    whose task finished, a READY task an interrupting event or a terminate end took over.
    (SpiffWorkflow drops the predicted children of a cancelled task; this rule also keeps
    out any predicted task cancelled on its own.)
    """
    if task.state & _REACHED:
        return True
    if task.state == TaskState.CANCELLED:
        return task.parent is None or task.parent.state == TaskState.COMPLETED
    return False


def _source_of(task: Task) -> str | None:
    """The bpmn_id of the nearest ancestor with one; None for a loop or multi-instance pass."""
    parent = task.parent
    while parent is not None:
        spec = parent.task_spec
        if getattr(spec, "bpmn_id", None) is not None:
            # A pass of a loop or multi-instance task comes from its container, not along a flow;
            # the task after the container does come from it along a flow.
            if isinstance(spec, LoopTask) and task.task_spec.name == spec.task_spec:
                return None
            return spec.bpmn_id
        parent = parent.parent
    return None


@lru_cache(maxsize=32)
def _flows_by_ends(xml: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """(sourceRef, targetRef) -> sequenceFlow ids of a diagram (a few versions cached)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(xml.encode("utf-8"), parser)
    flows: dict[tuple[str, str], list[str]] = {}
    for flow in root.iter(f"{{{_BPMN_NS}}}sequenceFlow"):
        key = (flow.get("sourceRef") or "", flow.get("targetRef") or "")
        flows.setdefault(key, []).append(flow.get("id") or "")
    return {key: tuple(ids) for key, ids in flows.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
