"""bpmn/referral.bpmn on the bare engine: the routes of every disposition, the inclusive join,
the case-filing call activity (with its extension loop), and the timers; no database.

Service tasks answer from a table (what the real handlers return, minus their records), so
these tests pin down the diagram's routing on its own; tests/test_referral_process.py runs
the same diagram through the application over HTTP.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.util.task import TaskState

from workflows.scripting import SafeEnvironment
from workflows.serializer import restore_instance, serialize_instance
from workflows.specs import SpecLibrary

BPMN = Path(__file__).resolve().parent.parent / "bpmn"
FAR = (datetime.now(timezone.utc) + timedelta(days=3650)).isoformat()
PAST = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
BRANCH_IDS = {"case_filing": 1, "department_transfer": 2, "judicial_transfer": 3, "discipline": 4,
              "rectification": 5, "no_penalty": 6}


class TableEnvironment(SafeEnvironment):
    """Service calls answered by ``answer`` and logged, instead of the registered handlers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.due = FAR  # what every scheduling step returns as its deadline

    def answer(self, name: str, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        if name == "referrals.open_branches":
            return {"branch_ids": {d: BRANCH_IDS[d] for d in data["dispositions"]}}
        if name == "referrals.take_up_branch":
            return {"branch_id": BRANCH_IDS[params["disposition"]], "ack_due_at": self.due}
        if name == "referrals.issue_transfer":
            return {"branch_id": BRANCH_IDS[params["disposition"]], "ack_due_at": self.due}
        if name == "referrals.close_no_penalty":
            return {"branch_id": BRANCH_IDS["no_penalty"]}
        if name == "referrals.schedule_rectification":
            return {"branch_id": BRANCH_IDS["rectification"], "rectification_due_at": self.due}
        if name == "referrals.prepare_follow_up":
            return {"follow_up_user_id": 7, "follow_up_due_at": self.due}
        if name == "referrals.escalate_rectification":
            return {"branch_id": 99}
        if name in ("referrals.schedule_verification", "referrals.extend_verification"):
            return {"verification_due_at": self.due}
        if name == "referrals.schedule_penalty_publication":
            return {"penalty_publication_due_at": self.due, "penalty_publication_reminder_at": self.due}
        return {}

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        name = kwargs["operation_name"]
        params = {k: v["value"] for k, v in kwargs.get("operation_params", {}).items()}
        self.calls.append((name, {**params, "branch_id": context.get("branch_id")}))
        context.update(self.answer(name, params, dict(context)))
        return "null"


class Run:
    """One referral instance, serialized and restored between steps as the application does."""

    def __init__(self, dispositions: list[str]) -> None:
        loaded = SpecLibrary.from_dirs([BPMN]).get("referral")
        self.spec, self.subprocess_specs = loaded.spec, loaded.subprocess_specs
        self.env = TableEnvironment()
        self.workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=PythonScriptEngine(environment=self.env))
        self.workflow.task_tree.data = {"referral_id": 1, "case_id": 1}
        self.workflow.do_engine_steps()
        self.complete("triage", dispositions=dispositions)

    def _restore(self) -> None:
        self.workflow = restore_instance(serialize_instance(self.workflow), self.spec, self.subprocess_specs)
        self.workflow.script_engine = PythonScriptEngine(environment=self.env)

    def ready(self) -> list[str]:
        return sorted(t.task_spec.bpmn_id for t in self.workflow.get_tasks(state=TaskState.READY, manual=True))

    def lanes(self) -> dict[str, str]:
        return {t.task_spec.bpmn_id: t.task_spec.lane for t in self.workflow.get_tasks(state=TaskState.READY, manual=True)}

    def complete(self, bpmn_id: str, branch: int | None = None, **data: Any) -> None:
        self._restore()
        ready = [t for t in self.workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == bpmn_id
                 and (branch is None or t.data.get("branch_id") == branch)]
        assert len(ready) == 1, (bpmn_id, self.ready())
        if bpmn_id.endswith("_ack") or bpmn_id == "record_discipline_transfer":
            data = {"outcome_due_at": self.env.due, **data}  # what the acknowledgement's validator returns
        ready[0].data.update(data)
        ready[0].run()
        self.workflow.do_engine_steps()

    def fire_all_timers(self) -> None:
        """Every waiting timer falls due now."""
        self._restore()
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            if isinstance(task.internal_data.get("event_value"), str):
                task.internal_data["event_value"] = PAST
        self.workflow.refresh_timers()
        self.workflow.do_engine_steps()

    def services(self, name: str) -> list[dict[str, Any]]:
        return [params for op, params in self.env.calls if op == name]

    @property
    def closed(self) -> bool:
        return bool(self.services("referrals.close_referral")) and self.workflow.is_completed()


def test_both_processes_load_with_lanes_named_after_roles() -> None:
    library = SpecLibrary.from_dirs([BPMN])
    assert {"referral", "case_filing"} <= set(library.specs)
    assert set(library.get("referral").subprocess_specs) == {"case_filing"}
    lanes = {spec.lane for loaded in (library.get("referral"), library.get("case_filing"))
             for spec in loaded.spec.task_specs.values() if getattr(spec, "manual", False)}
    assert lanes == {"legal_officer", "leader", "inspector"}


def test_each_disposition_alone_runs_its_own_path_to_the_close() -> None:
    run = Run(["department_transfer"])
    assert run.ready() == ["record_department_ack"] and run.services("referrals.issue_transfer") == [
        {"disposition": "department_transfer", "branch_id": None}]
    run.complete("record_department_ack")
    run.complete("record_department_outcome")
    assert run.closed

    run = Run(["judicial_transfer"])
    run.complete("record_judicial_ack")
    assert not run.closed
    run.complete("record_judicial_outcome")
    assert run.closed

    run = Run(["discipline"])
    assert run.ready() == ["record_discipline_transfer"]
    run.complete("record_discipline_transfer")
    run.complete("record_discipline_outcome")
    assert run.closed

    run = Run(["no_penalty"])  # decided at triage: nothing waits
    assert run.ready() == [] and run.closed

    run = Run(["case_filing"])
    assert run.ready() == ["verify_lead"] and run.lanes() == {"verify_lead": "legal_officer"}
    run.complete("verify_lead", verification_result="decline")
    assert run.closed


def test_the_join_waits_for_every_chosen_branch_and_only_those() -> None:
    run = Run(["case_filing", "department_transfer", "no_penalty"])
    assert run.ready() == ["record_department_ack", "verify_lead"]
    run.complete("verify_lead", verification_result="file")
    run.complete("record_filing_decision", filing_outcome="filed_no_penalty")
    assert run.ready() == ["record_department_ack"] and not run.closed
    run.complete("record_department_ack")
    run.complete("record_department_outcome")
    assert run.closed
    assert [p["disposition"] for p in run.services("referrals.take_up_branch")] == ["case_filing"]
    assert run.services("referrals.issue_transfer")[0]["disposition"] == "department_transfer"
    assert run.services("referrals.close_no_penalty") and not run.services("referrals.schedule_rectification")


def test_extension_loop_and_penalty_publication_inside_the_call_activity() -> None:
    run = Run(["case_filing"])
    run.complete("verify_lead", verification_result="extend")
    assert run.ready() == ["approve_extension"] and run.lanes()["approve_extension"] == "leader"
    run.complete("approve_extension", extension_answer="refuse")
    assert run.ready() == ["verify_lead"] and not run.services("referrals.extend_verification")
    run.complete("verify_lead", verification_result="extend")  # the validator refuses this; the diagram loops
    run.complete("approve_extension", extension_answer="approve")
    assert run.ready() == ["verify_lead"] and len(run.services("referrals.extend_verification")) == 1
    run.complete("verify_lead", verification_result="file")
    run.complete("record_filing_decision", filing_outcome="penalty")
    assert run.ready() == ["publish_penalty_decision"] and run.services("referrals.schedule_penalty_publication")
    run.complete("publish_penalty_decision")
    assert run.closed


def test_rectification_waits_for_its_deadline_then_closes_or_escalates_to_case_filing() -> None:
    run = Run(["rectification", "discipline"])
    assert run.ready() == ["record_discipline_transfer"]  # the rectification path waits on its timer
    run.complete("record_discipline_transfer")
    run.complete("record_discipline_outcome")
    assert not run.closed and not run.services("referrals.prepare_follow_up")
    run.fire_all_timers()
    assert run.ready() == ["follow_up_inspection"] and run.lanes()["follow_up_inspection"] == "inspector"
    run.complete("follow_up_inspection", follow_up_fixed=True)
    assert run.closed and not run.services("referrals.escalate_rectification")

    run = Run(["rectification", "case_filing"])
    run.fire_all_timers()  # the deadline passes and the verification deadline too (non-interrupting)
    assert run.ready() == ["follow_up_inspection", "verify_lead"]
    assert run.services("referrals.mark_overdue")
    run.complete("follow_up_inspection", follow_up_fixed=False)
    # Two case-filing calls now run side by side, each on its own branch.
    assert sorted(t.data["branch_id"] for t in run.workflow.get_tasks(state=TaskState.READY, manual=True)) == [1, 99]
    run.complete("verify_lead", branch=99, verification_result="decline")
    assert not run.closed
    run.complete("verify_lead", branch=1, verification_result="decline")
    assert run.closed


@pytest.mark.parametrize("prefix", ["department", "judicial"])
def test_transfer_reminders_are_non_interrupting(prefix: str) -> None:
    run = Run([f"{prefix}_transfer"])
    run.fire_all_timers()
    assert run.ready() == [f"record_{prefix}_ack"]
    assert [p for p in run.services("referrals.remind")] == [{"reminder": "acknowledgement", "branch_id": BRANCH_IDS[f"{prefix}_transfer"]}]
    run.complete(f"record_{prefix}_ack")
    run.fire_all_timers()
    assert run.ready() == [f"record_{prefix}_outcome"] and len(run.services("referrals.remind")) == 2
    run.complete(f"record_{prefix}_outcome")
    assert run.closed
