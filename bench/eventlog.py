"""Event-log benchmark: exporting a city's year (30,000 cases, about 15 steps each) as XES and CSV.

Run: ``.venv/bin/python bench/eventlog.py [--cases 30000] [--skip-lxml]``.

It creates the throw-away PostgreSQL database ``suiji_bench_eventlog``, loads the demo
(``flask demo load``: the Jincheng SAMR 2023 plan, a signed-off draw and its 20 cases
taken through their stages by the real engine), and then copies the recorded paths of
those past their team's confirmation (published, returned and revised, referred, in
result entry, inspecting) onto ``--cases`` more cases of the same draw with COPY: an ``inspection_case``, a
``process_instance`` (its state is not copied: the export never reads it) and the same
``process_event`` rows, times shifted, per case. Then it times, with the demo's plan year:

- ``count_traces`` (what the page and the audit entry show);
- the XES export (``eventlog.xes_chunks``) and the CSV export, each written to a file;
- for comparison, the same traces written by lxml's incremental ``etree.xmlfile`` with
  one element per attribute (the alternative the module's docstring rejects);
- a full lxml parse of the XES file, counting traces and events against the database.

Figures go into bench/README.md by hand, with the date and the machine.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

import psycopg  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "suiji_bench_eventlog"


def recreate_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{DB_NAME}"


def copy(cursor, table: str, columns: tuple[str, ...], rows) -> None:  # type: ignore[no-untyped-def]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
        for row in rows:
            out.write_row(row)


def replicate_cases(app, count: int) -> dict:  # type: ignore[no-untyped-def]
    """``count`` more cases of the demo draw, each with the recorded path of one demo case."""
    from sqlalchemy import select, text

    from app.cases.models import InspectionCase
    from app.directory.models import Entity
    from app.extensions import db
    from workflows.models import ProcessEvent, ProcessInstance

    with app.app_context():
        # The cases past their team's confirmation: a year's log is mostly finished cases.
        templates = list(db.session.scalars(select(InspectionCase).where(InspectionCase.status != "recusal")
                                            .order_by(InspectionCase.id)))
        paths = {}
        for case in templates:
            events = db.session.execute(
                select(ProcessEvent.at, ProcessEvent.bpmn_id, ProcessEvent.element_type, ProcessEvent.element_name,
                       ProcessEvent.event, ProcessEvent.user_id)
                .where(ProcessEvent.instance_id == case.process_instance_id).order_by(ProcessEvent.id)).all()
            paths[case.id] = events
        instance = db.session.get(ProcessInstance, templates[0].process_instance_id)
        draw_id, task_id, spec_id = templates[0].draw_id, templates[0].spot_check_task_id, instance.spec_id
        used = set(db.session.scalars(select(InspectionCase.entity_id)))
        entities = [e for e in db.session.scalars(select(Entity.id).order_by(Entity.id)) if e not in used][:count]
        if len(entities) < count:
            raise SystemExit(f"only {len(entities)} free entities: load the demo with more (--entities)")
        next_case = db.session.scalar(text("SELECT max(id) FROM inspection_case")) + 1
        next_instance = db.session.scalar(text("SELECT max(id) FROM process_instance")) + 1
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    order = [c.id for c in templates]
    raw = psycopg.connect(app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://"))
    events_written = 0
    with raw, raw.cursor() as cur:
        cases, instances, events = [], [], []
        for n, entity_id in enumerate(entities):
            template = order[n % len(order)]
            case_id, instance_id = next_case + n, next_instance + n
            shift = timedelta(minutes=n)
            instances.append((instance_id, spec_id, "inspection_case", "inspection_case", case_id, f"bench case {n}",
                              "running", "{}", 1, now, now))
            cases.append((case_id, f"BENCH-{n:06d}", draw_id, task_id, entity_id, "recusal", instance_id, now, now,
                          "", "[]", "", "", "", "", False))
            for at, bpmn_id, element_type, element_name, event, user_id in paths[template]:
                events.append((instance_id, at + shift, bpmn_id, element_type, element_name, event, user_id, "{}"))
        copy(cur, "process_instance", ("id", "spec_id", "process_id", "subject_type", "subject_id", "subject_title",
                                       "status", "state", "version", "started_at", "updated_at"), instances)
        copy(cur, "inspection_case", ("id", "code", "draw_id", "spot_check_task_id", "entity_id", "status",
                                      "process_instance_id", "created_at", "updated_at", "onsite_record",
                                      "result_categories", "result_summary", "calendar_note", "review_comments",
                                      "abnormal_listing_ref", "needs_referral"), cases)
        copy(cur, "process_event", ("instance_id", "at", "bpmn_id", "element_type", "element_name", "event",
                                    "user_id", "data"), events)
        events_written = len(events)
        for table in ("process_instance", "inspection_case", "process_event"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cur.execute(f"ANALYZE {table}")
    return {"cases": count, "events": events_written, "fill_seconds": round(time.perf_counter() - started, 1)}


def lxml_xes(request, path: str) -> None:  # type: ignore[no-untyped-def]
    """The same log written with lxml's incremental writer, one element per attribute."""
    from lxml import etree

    from app.compliance import eventlog

    ns = eventlog.XES_NAMESPACE
    q = {name: f"{{{ns}}}{name}" for name in ("log", "trace", "event", "string", "date", "int")}
    with open(path, "wb") as out, etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(q["log"], {"xes.version": eventlog.XES_VERSION, "xes.features": ""}, nsmap={None: ns}):
            for trace in eventlog.traces(request):
                element = etree.Element(q["trace"], nsmap={None: ns})
                etree.SubElement(element, q["string"], key="concept:name", value=trace.name)
                for e in trace.events:
                    event = etree.SubElement(element, q["event"])
                    etree.SubElement(event, q["string"], key="concept:name", value=e.activity)
                    etree.SubElement(event, q["string"], key="bpmn_id", value=e.bpmn_id)
                    etree.SubElement(event, q["string"], key="lifecycle:transition", value="complete")
                    etree.SubElement(event, q["date"], key="time:timestamp", value=eventlog.timestamp(e.at))
                    if e.resource:
                        etree.SubElement(event, q["string"], key="org:resource", value=e.resource)
                    if e.role:
                        etree.SubElement(event, q["string"], key="org:role", value=e.role)
                xf.write(element)


def timed(label: str, work, report: dict):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    report[label] = round(seconds, 2)
    print(f"{label:<28} {seconds:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=30_000)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--skip-lxml", action="store_true", help="do not time the lxml writer for comparison")
    args = parser.parse_args()

    url = recreate_database(args.admin_url)
    from flask_migrate import upgrade
    from lxml import etree
    from sqlalchemy import func, select

    from app import create_app
    from app.compliance import eventlog
    from app.config import Config
    from app.extensions import db
    from workflows.models import ProcessEvent, ProcessInstance

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=1024,
                     JOBS_BACKEND="memory")
    with app.app_context():
        upgrade()
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["demo", "load", "--entities", str(args.cases + 5000)])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    print(f"demo loaded in {time.perf_counter() - started:.1f} s")
    filled = replicate_cases(app, args.cases)
    print(f"copied {filled['cases']:,} cases with {filled['events']:,} events in {filled['fill_seconds']} s")

    report: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), **filled}
    workdir = tempfile.mkdtemp(prefix="suiji-eventlog-")
    with app.app_context():
        request = eventlog.parse_request("inspection_case", 2023)
        traces = timed("count_traces", lambda: eventlog.count_traces(request), report)
        completed = db.session.scalar(
            select(func.count(ProcessEvent.id)).join(ProcessInstance, ProcessInstance.id == ProcessEvent.instance_id)
            .where(ProcessInstance.process_id == "inspection_case", ProcessEvent.event == "completed",
                   ProcessEvent.bpmn_id != ""))

        def write(fmt: str) -> int:
            path = os.path.join(workdir, f"log.{fmt}")
            with open(path, "wb") as out:
                for chunk in eventlog.chunks(request, fmt):
                    out.write(chunk)
            return os.path.getsize(path)

        xes_bytes = timed("XES export", lambda: write("xes"), report)
        csv_bytes = timed("CSV export", lambda: write("csv"), report)
        timed("traces() alone (query+merge)", lambda: sum(len(t.events) for t in eventlog.traces(request)), report)
        if not args.skip_lxml:
            timed("XES by lxml elements", lambda: lxml_xes(request, os.path.join(workdir, "lxml.xes")), report)

        def parse() -> tuple[int, int]:
            n_traces = n_events = 0
            for _, element in etree.iterparse(os.path.join(workdir, "log.xes"), tag=f"{{{eventlog.XES_NAMESPACE}}}trace"):
                n_traces += 1
                n_events += len(element.findall(f"{{{eventlog.XES_NAMESPACE}}}event"))
                element.clear()
            return n_traces, n_events

        parsed = timed("lxml iterparse of the XES", parse, report)
    print(f"{traces:,} traces; XES {xes_bytes / 1e6:.0f} MB, CSV {csv_bytes / 1e6:.0f} MB; "
          f"parsed back: {parsed[0]:,} traces, {parsed[1]:,} events (database: {completed:,} completed steps)")
    assert parsed == (traces, completed), "the XES does not hold every trace and completed step"
    report |= {"traces": traces, "events_exported": parsed[1], "xes_mb": round(xes_bytes / 1e6),
               "csv_mb": round(csv_bytes / 1e6)}
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "eventlog.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
