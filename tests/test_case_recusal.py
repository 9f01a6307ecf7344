"""Recusal in an inspection case: a declared interest brings in the draw's next eligible inspector."""
from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User
from app.cases.models import CaseMember, InspectionCase
from app.directory.models import InspectorConflict
from app.draws import algorithm
from app.draws.inspectors import snapshot
from app.draws.models import Draw
from app.draws.service import team_rule
from app.extensions import db
from tests.test_draw_process import _prepare, _published_plan, _ready, _sit, bureau  # noqa: F401
from workflows.models import HumanTask


def _signed_off(app, bureau, login_as) -> int:  # type: ignore[no-untyped-def]
    _published_plan(app, bureau, login_as, ratio="2%")
    _prepare(app, bureau, login_as)
    _sit(app, login_as)
    login_as("leader").post(f"/tasks/{_ready(app, 'sign_off')}/complete", data={"decision": "approve"})
    with app.app_context():
        return db.session.scalar(select(InspectionCase.id).order_by(InspectionCase.id))


def _confirm_task(app, case_id: int, inspector_id: int):  # type: ignore[no-untyped-def]
    """(task id, username) of the inspector's open confirmation on the case."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.inspector_id == inspector_id))
        case = db.session.get(InspectionCase, case_id)
        task_id = db.session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == case.process_instance_id, HumanTask.bpmn_id == "confirm_no_conflict",
            HumanTask.state == "READY", HumanTask.assignee_id == user.id))
        return task_id, user.username


def test_recusal_brings_in_the_next_eligible_inspector(app, bureau, login_as):
    case_id = _signed_off(app, bureau, login_as)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        first, second = [(m.inspector_id, m.certificate_no) for m in case.members]
        d = db.session.get(Draw, case.draw_id)
        seed = algorithm.derive_seed(bytes.fromhex(d.server_seed), d.witness_entropy)
        entity = algorithm.PoolEntity(case.entity.uscc, case.entity.credit_class or "U", case.entity.station)
        candidates = snapshot(case.spot_check_task)
        # What the rule says the replacement must be, computed independently of the case service
        # (the recusing inspector's declaration makes them ineligible in any case).
        expected = algorithm.replacement(
            seed, d.task_code, entity, candidates.candidates, team_rule(case.spot_check_task),
            {first[1], second[1]}, [second[1]], {c.certificate_no: c.open_cases for c in candidates.candidates})

    task_id, username = _confirm_task(app, case_id, first[0])
    inspector = login_as(username)
    r = inspector.post(f"/tasks/{task_id}/complete", data={"decision": "recuse", "reason": ""})
    assert r.status_code == 422  # a declaration needs its reason
    assert inspector.post(f"/tasks/{task_id}/complete",
                          data={"decision": "recuse", "reason": "该店法定代表人系本人表兄"}).status_code == 302
    # Someone else's confirmation cannot be answered.
    other_task, other_user = _confirm_task(app, case_id, second[0])
    assert inspector.post(f"/tasks/{other_task}/complete", data={"decision": "confirm"}).status_code == 403
    assert login_as(other_user).post(f"/tasks/{other_task}/complete", data={"decision": "confirm"}).status_code == 302

    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        states = [(m.certificate_no, m.state, m.replaces_id is not None) for m in case.members]
        assert states[0] == (first[1], "recused", False)
        assert states[1] == (second[1], "confirmed", False)
        assert states[2] == (expected, "assigned", True)
        assert db.session.scalar(select(InspectorConflict.reason).where(
            InspectorConflict.inspector_id == first[0], InspectorConflict.entity_id == case.entity_id)) \
            == "该店法定代表人系本人表兄"
        assert case.status == "recusal"
        replacement_id = case.members[2].inspector_id

    task_id, username = _confirm_task(app, case_id, replacement_id)
    assert login_as(username).post(f"/tasks/{task_id}/complete", data={"decision": "confirm"}).status_code == 302
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.status == "inspecting"
        assert sum(m.state == "confirmed" for m in case.members) == 2
