"""The event log of process instances, as XES (IEEE 1849-2016) and as CSV, streamed.

Process-mining tools (ProM, Disco, pm4py, Celonis) check conformance against the diagrams
outside the application: one trace per process instance (an inspection case, named by
its case code), one event per completed step of its recorded path (the
``process_event`` rows with event ``completed``), in the order they happened.

Both formats are produced as a stream of byte chunks from one streamed query, so a
year of a city (30,000 cases, about 15 steps each) never sits in memory as a whole.

The XES is written by a small writer of its own rather than by building an lxml
element per attribute: the log has a fixed shape (six attribute kinds), and formatting
strings with cached escaping is four times faster (bench/eventlog.py, bench/README.md).
Every value goes through ``_attr``, which escapes markup and replaces the characters
XML 1.0 cannot carry; the tests parse the output with lxml and with the standard library.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from app.auth.models import User
from app.cases.models import InspectionCase
from app.draws.models import TaskDraw
from app.errors import ValidationFailed
from app.extensions import db
from app.i18n import lazy_text as _l
from app.plans.models import Plan, SpotCheckTask
from app.compliance.sql import of_plan_year
from app.referrals.models import Referral
from workflows.models import ProcessEvent, ProcessInstance
from workflows.specs import library

XES_NAMESPACE = "http://www.xes-standard.org/"
XES_VERSION = "1849-2016"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CSV_COLUMNS = ("case_id", "activity", "bpmn_id", "timestamp", "resource", "role", "lifecycle")
FORMATS = ("xes", "csv")
DEFAULT_PROCESS = "inspection_case"

# The extensions the log uses, as IEEE 1849-2016 names them (name, prefix, URI).
EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)

# Bytes gathered before a chunk is handed on: large enough for few writes, small enough to stream.
CHUNK_BYTES = 256 * 1024
_ROWS_PER_FETCH = 5000


# --------------------------------------------------------------------------- which instances


@dataclass(frozen=True)
class ProcessLog:
    """How the instances of one process are found and named, and what year they belong to."""

    process_id: str
    label: Any  # lazy text, for the page
    # select(instance id, spec id, trace name) for the process; ``year`` filters by the plan's year
    instances: Callable[[int | None], Select]


def _case_instances(year: int | None) -> Select:
    query = (
        select(ProcessInstance.id, ProcessInstance.spec_id, InspectionCase.code)
        .join(InspectionCase, InspectionCase.id == ProcessInstance.subject_id)
        .where(ProcessInstance.process_id == "inspection_case", ProcessInstance.subject_type == "inspection_case")
    )
    return of_plan_year(query, year) if year is not None else query


def _plan_instances(year: int | None) -> Select:
    query = (
        select(ProcessInstance.id, ProcessInstance.spec_id, Plan.code)
        .join(Plan, Plan.id == ProcessInstance.subject_id)
        .where(ProcessInstance.process_id == "plan_approval", ProcessInstance.subject_type == "plan")
    )
    return query.where(Plan.year == year) if year is not None else query


def _draw_instances(year: int | None) -> Select:
    query = (
        select(ProcessInstance.id, ProcessInstance.spec_id, Plan.code + "/" + SpotCheckTask.code)
        .join(TaskDraw, TaskDraw.id == ProcessInstance.subject_id)
        .join(SpotCheckTask, SpotCheckTask.id == TaskDraw.spot_check_task_id)
        .join(Plan, Plan.id == SpotCheckTask.plan_id)
        .where(ProcessInstance.process_id == "draw", ProcessInstance.subject_type == "task_draw")
    )
    return query.where(Plan.year == year) if year is not None else query


def _referral_instances(year: int | None) -> Select:
    # A referral belongs to one case: it is named by the case's code.
    query = (
        select(ProcessInstance.id, ProcessInstance.spec_id, InspectionCase.code)
        .join(Referral, Referral.id == ProcessInstance.subject_id)
        .join(InspectionCase, InspectionCase.id == Referral.case_id)
        .where(ProcessInstance.process_id == "referral", ProcessInstance.subject_type == "referral")
    )
    return of_plan_year(query, year) if year is not None else query


PROCESSES: dict[str, ProcessLog] = {
    log.process_id: log
    for log in (
        ProcessLog("inspection_case", _l("Inspection cases"), _case_instances),
        ProcessLog("plan_approval", _l("Plan approvals"), _plan_instances),
        ProcessLog("draw", _l("Draws"), _draw_instances),
        ProcessLog("referral", _l("Referrals"), _referral_instances),
    )
}


@dataclass(frozen=True)
class EventLogRequest:
    """What to export: a process and, optionally, a plan year."""

    process: str = DEFAULT_PROCESS
    year: int | None = None

    @property
    def filename_stem(self) -> str:
        return f"suiji-{self.process}-{self.year if self.year is not None else 'all'}"

    @property
    def title(self) -> str:
        return f"Suiji {self.process} {self.year if self.year is not None else 'all years'}"


def parse_request(process: str | None, year: str | int | None) -> EventLogRequest:
    """The export's options from a query string or the CLI; ValidationFailed names a bad one."""
    errors: dict[str, list[Any]] = {}
    process = process or DEFAULT_PROCESS
    if process not in PROCESSES:
        errors["process"] = [_l("unknown process %(name)s; choose one of %(choices)s",
                                name=process, choices=", ".join(PROCESSES))]
    parsed: int | None = None
    if year not in (None, ""):
        try:
            parsed = int(year)  # type: ignore[arg-type]
            if not 2000 <= parsed <= 2100:
                raise ValueError
        except ValueError:
            errors["year"] = [_l("a year like 2023")]
    if errors:
        raise ValidationFailed(errors)
    return EventLogRequest(process, parsed)


def available_years() -> list[int]:
    """The plan years there are, newest first (the page offers them)."""
    return list(db.session.scalars(select(Plan.year).distinct().order_by(Plan.year.desc())))


def count_traces(request: EventLogRequest) -> int:
    """How many traces (process instances) the export holds."""
    instances = PROCESSES[request.process].instances(request.year).subquery()
    return db.session.scalar(select(func.count()).select_from(instances)) or 0


# --------------------------------------------------------------------------- the event stream


class Event(NamedTuple):
    """One completed step, ready to be written (a tuple: half a million of them are made per year)."""

    activity: str
    bpmn_id: str
    element_type: str
    at: datetime
    resource: str | None  # the username of the person who completed it
    role: str | None  # the lane


@dataclass(frozen=True)
class Trace:
    name: str
    instance_id: int
    events: list[Event]


def _lanes(spec_ids: set[int]) -> dict[int, dict[str, str]]:
    """Per spec version: BPMN element id -> lane name (sub-processes included)."""
    from workflows.models import ProcessSpec

    lib = library()
    lanes: dict[int, dict[str, str]] = {}
    rows = db.session.execute(select(ProcessSpec.id, ProcessSpec.content_hash).where(ProcessSpec.id.in_(spec_ids)))
    for spec_id, content_hash in rows:
        spec, subprocesses = lib.version(db.session, spec_id, content_hash)
        found: dict[str, str] = {}
        for process_spec in (spec, *subprocesses.values()):
            for task_spec in process_spec.task_specs.values():
                if task_spec.bpmn_id and task_spec.lane:
                    found.setdefault(task_spec.bpmn_id, task_spec.lane)
        lanes[spec_id] = found
    return lanes


def traces(request: EventLogRequest) -> Iterator[Trace]:
    """Every instance of the request as a trace of its completed steps, by instance id.

    Two queries: the instances (ids and names, a few MB for a city's year) and their
    completed events, streamed in instance order and merged with them.
    """
    log = PROCESSES[request.process]
    instances = db.session.execute(log.instances(request.year).order_by(ProcessInstance.id)).all()
    if not instances:
        return
    lanes = _lanes({spec_id for _, spec_id, _ in instances})
    chosen = log.instances(request.year).subquery()
    # Core rows fetched a partition at a time, not ORM rows one by one: the ORM's per-row
    # bookkeeping and the row-by-row fetching were a third of a year's export.
    result = db.session.connection().execute(
        select(ProcessEvent.instance_id, ProcessEvent.at, ProcessEvent.bpmn_id, ProcessEvent.element_type,
               ProcessEvent.element_name, User.username)
        .join(chosen, chosen.c.id == ProcessEvent.instance_id)
        .outerjoin(User, User.id == ProcessEvent.user_id)
        .where(ProcessEvent.event == "completed", ProcessEvent.bpmn_id != "")
        .order_by(ProcessEvent.instance_id, ProcessEvent.at, ProcessEvent.id)
        .execution_options(yield_per=_ROWS_PER_FETCH)
    )
    events = (row for partition in result.partitions(_ROWS_PER_FETCH) for row in partition)
    pending = next(events, None)
    used: set[str] = set()
    for instance_id, spec_id, name in instances:
        # A subject started twice (a restarted process) keeps one trace per instance.
        name = name if name not in used else f"{name}#{instance_id}"
        used.add(name)
        spec_lanes = lanes.get(spec_id, {})
        steps: list[Event] = []
        while pending is not None and pending[0] <= instance_id:
            if pending[0] == instance_id:
                _, at, bpmn_id, element_type, element_name, username = pending
                steps.append(Event(element_name or bpmn_id, bpmn_id, element_type, at, username,
                                   spec_lanes.get(bpmn_id)))
            pending = next(events, None)
        yield Trace(name, instance_id, steps)


def timestamp(at: datetime) -> str:
    """ISO 8601 with milliseconds and the offset, in the bureau's time zone (Asia/Shanghai)."""
    return at.astimezone(SHANGHAI).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- XES


# Characters XML 1.0 does not allow, even escaped: replaced so that the file always parses.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Whitespace other than a space is written as a character reference: attribute-value
# normalisation would turn a literal newline into a space.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                          "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


@lru_cache(maxsize=4096)
def _attr(value: str) -> str:
    """``value`` escaped for a double-quoted XML attribute (cached: names repeat a lot)."""
    return _NOT_XML.sub("\ufffd", value).translate(_ESCAPES)


def _string(key: str, value: str) -> str:
    return f'<string key="{key}" value="{_attr(value)}"/>'


def _xes_header(request: EventLogRequest) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<log xes.version="{XES_VERSION}" xes.features="" xmlns="{XES_NAMESPACE}">']
    lines += [f'  <extension name="{n}" prefix="{p}" uri="{u}"/>' for n, p, u in EXTENSIONS]
    # Globals: every trace and every event carries these (with these defaults if it had not).
    lines += ['  <global scope="trace">', '    <string key="concept:name" value="__INVALID__"/>', "  </global>",
              '  <global scope="event">', '    <string key="concept:name" value="__INVALID__"/>',
              '    <string key="bpmn_id" value="__INVALID__"/>',
              '    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>',
              '    <string key="lifecycle:transition" value="complete"/>', "  </global>"]
    lines += ['  <classifier name="Activity" keys="concept:name"/>',
              '  <classifier name="Activity_and_transition" keys="concept:name lifecycle:transition"/>',
              '  <classifier name="BPMN_element" keys="bpmn_id"/>']
    lines += [f"  {_string('concept:name', request.title)}", f"  {_string('lifecycle:model', 'standard')}",
              f"  {_string('source', 'Suiji process_event')}"]
    return "\n".join(lines) + "\n"


def _xes_trace(trace: Trace) -> str:
    parts = [f"  <trace>{_string('concept:name', trace.name)}<int key=\"instance_id\" value=\"{trace.instance_id}\"/>"]
    for event in trace.events:
        parts.append(
            f"\n    <event>{_string('concept:name', event.activity)}{_string('bpmn_id', event.bpmn_id)}"
            f"{_string('element_type', event.element_type)}"
            f'<string key="lifecycle:transition" value="complete"/>'
            f'<date key="time:timestamp" value="{timestamp(event.at)}"/>'
            + (_string("org:resource", event.resource) if event.resource else "")
            + (_string("org:role", event.role) if event.role else "")
            + "</event>"
        )
    parts.append("\n  </trace>\n")
    return "".join(parts)


def xes_chunks(request: EventLogRequest) -> Iterator[bytes]:
    """The XES document in UTF-8 chunks of about CHUNK_BYTES."""
    buffer: list[str] = [_xes_header(request)]
    size = 0
    for trace in traces(request):
        text = _xes_trace(trace)
        buffer.append(text)
        size += len(text)
        if size >= CHUNK_BYTES // 3:  # characters; up to three bytes each in UTF-8
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
    buffer.append("</log>\n")
    yield "".join(buffer).encode("utf-8")


# --------------------------------------------------------------------------- CSV


def csv_chunks(request: EventLogRequest) -> Iterator[bytes]:
    """The CSV (one row per event, CSV_COLUMNS, RFC 4180 quoting) in UTF-8 chunks."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for trace in traces(request):
        writer.writerows(
            (trace.name, e.activity, e.bpmn_id, timestamp(e.at), e.resource or "", e.role or "", "complete")
            for e in trace.events
        )
        if out.tell() >= CHUNK_BYTES // 3:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def chunks(request: EventLogRequest, fmt: str) -> Iterator[bytes]:
    """The export in ``fmt`` ("xes" or "csv")."""
    if fmt not in FORMATS:
        raise ValidationFailed({"format": [_l("xes or csv")]})
    return xes_chunks(request) if fmt == "xes" else csv_chunks(request)


def audit_export(request: EventLogRequest, fmt: str, actor: Any, *, traces_count: int, via: str) -> None:
    """Record the export in the audit log (the caller commits)."""
    from app.audit import service as audit

    audit.record("eventlog.exported", actor=actor, subject_type="eventlog", subject_id=request.process, details={
        "format": fmt, "process": request.process, "year": request.year, "traces": traces_count, "via": via})
