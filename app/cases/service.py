"""Inspection cases: started by a signed-off draw, then run by ``bpmn/inspection_case.bpmn``."""
from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from app.auth.models import User
from app.auth.roles import Role
from app.cases.models import CaseMember, CaseStatus, InspectionCase, MemberState
from app.directory.models import Entity, Inspector, InspectorConflict
from app.draws import algorithm
from app.draws.models import Draw, DrawSelection
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from workflows import engine
from workflows.models import HumanTask, ProcessInstance
from workflows.registry import service_task, task_form

PROCESS_ID = "inspection_case"
SUBJECT_TYPE = "inspection_case"


def get_case(case_id: int) -> InspectionCase:
    case = db.session.get(InspectionCase, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def _users_by_inspector(inspector_ids: set[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(User.inspector_id, User.id).where(User.inspector_id.in_(inspector_ids), User.is_active_account.is_(True))
    ).tuples()
    return {inspector_id: user_id for inspector_id, user_id in rows}


def start_cases_for_draw(draw: Draw) -> int:
    """One case per selected entity, its team as drawn, each case's process started; no commit."""
    task = draw.task_draw.spot_check_task
    selections = draw.selections
    certs = {cert for s in selections for cert in s.team}
    inspector_ids = dict(
        db.session.execute(select(Inspector.certificate_no, Inspector.id).where(Inspector.certificate_no.in_(certs))).tuples().all()
    )
    users = _users_by_inspector(set(inspector_ids.values()))
    missing = sorted(cert for cert in certs if inspector_ids.get(cert) not in users)
    if missing:
        raise ValidationFailed(
            {"inspectors": [f"inspectors without an active login cannot receive cases: {', '.join(missing[:10])}"]}
        )
    # A join, not IN with one parameter per selected entity (30,000 in a large draw).
    names = dict(
        db.session.execute(
            select(Entity.id, Entity.name)
            .join(DrawSelection, DrawSelection.entity_id == Entity.id)
            .where(DrawSelection.draw_id == draw.id)
        ).tuples().all()
    )
    case_rows = [
        {
            "code": f"{draw.task_code}-{draw.id}-{s.rank:05d}",
            "draw_id": draw.id,
            "spot_check_task_id": task.id,
            "entity_id": s.entity_id,
            "status": CaseStatus.RECUSAL,
        }
        for s in selections
    ]
    if not case_rows:
        return 0
    case_ids = dict(
        db.session.execute(
            insert(InspectionCase).returning(InspectionCase.entity_id, InspectionCase.id), case_rows
        ).tuples().all()
    )
    member_rows = [
        {
            "case_id": case_ids[s.entity_id],
            "inspector_id": inspector_ids[cert],
            "certificate_no": cert,
            "position": position,
            "state": MemberState.ASSIGNED,
        }
        for s in selections
        for position, cert in enumerate(s.team, start=1)
    ]
    db.session.execute(insert(CaseMember), member_rows)
    items = [
        engine.StartItem(
            subject_type=SUBJECT_TYPE,
            subject_id=case_ids[s.entity_id],
            subject_title=f"{names.get(s.entity_id, s.uscc)} · {task.name}",
            data={"case_id": case_ids[s.entity_id], "pending_users": [users[inspector_ids[c]] for c in s.team],
                  "team_short": False},
        )
        for s in selections
    ]
    instance_ids = engine.start_processes(PROCESS_ID, items, user_id=draw.signed_off_by_id)
    # One executemany by primary key, not one UPDATE round trip per case.
    db.session.execute(
        update(InspectionCase),
        [{"id": item.subject_id, "process_instance_id": instance_id}
         for item, instance_id in zip(items, instance_ids, strict=True)],
    )
    return len(case_rows)


def _member_of(case: InspectionCase, user: User) -> CaseMember:
    for member in case.members:
        if user.inspector_id is not None and member.inspector_id == user.inspector_id:
            return member
    raise Forbidden("you are not on this case's team")


@task_form("case_recusal")
def _validate_recusal(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """Confirm no interest, or declare one with a reason; the member's state records it."""
    case = get_case(task.subject_id)
    member = _member_of(case, user)
    decision = str(form.get("decision") or "")
    reason = str(form.get("reason") or "").strip()
    if decision not in ("confirm", "recuse"):
        raise ValidationFailed({"decision": ["confirm that you have no conflict, or declare one"]})
    if decision == "recuse" and not reason:
        raise ValidationFailed({"reason": ["state the interest you have in this entity"]})
    if member.state != MemberState.ASSIGNED:
        raise ValidationFailed({"decision": ["you have already answered for this case"]})
    member.state = MemberState.CONFIRMED if decision == "confirm" else MemberState.RECUSED
    member.recusal_reason = reason[:2000] if decision == "recuse" else None
    return {"last_recusal_decision": decision}


def _draw_seed(draw: Draw) -> bytes:
    return algorithm.derive_seed(bytes.fromhex(draw.server_seed), draw.witness_entropy or "")


@service_task("cases.apply_recusals")
def _apply_recusals(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Record each new declaration as a conflict and add the draw's next eligible inspector."""
    from app.draws.inspectors import snapshot
    from app.draws.service import team_rule

    case = get_case(int(data["case_id"]))
    replaced = {m.replaces_id for m in case.members if m.replaces_id}
    newly_recused = [m for m in case.members if m.state == MemberState.RECUSED and m.id not in replaced]
    pending: list[int] = []
    short = False
    if newly_recused:
        draw = db.session.get(Draw, case.draw_id)
        task = case.spot_check_task
        for member in newly_recused:
            exists = db.session.scalar(
                select(InspectorConflict.id).where(
                    InspectorConflict.inspector_id == member.inspector_id, InspectorConflict.entity_id == case.entity_id
                )
            )
            if not exists:
                db.session.add(InspectorConflict(inspector_id=member.inspector_id, entity_id=case.entity_id,
                                                 reason=member.recusal_reason or ""))
        db.session.flush()
        candidates = snapshot(task)  # conflicts now include the declarations just recorded
        entity = case.entity
        pool_entity = algorithm.PoolEntity(uscc=entity.uscc, credit_class=entity.credit_class or "U",
                                           station=entity.station or "")
        loads = {c.certificate_no: c.open_cases for c in candidates.candidates}
        used = {m.certificate_no for m in case.members}
        for member in newly_recused:
            team = [m.certificate_no for m in case.members if m.state != MemberState.RECUSED]
            cert = algorithm.replacement(_draw_seed(draw), draw.task_code, pool_entity, candidates.candidates,
                                         team_rule(task), used, team, loads)
            user_id = _users_by_inspector({candidates.ids[cert]}).get(candidates.ids[cert]) if cert else None
            if cert is None or user_id is None:
                short = True
                continue
            used.add(cert)
            loads[cert] = loads.get(cert, 0) + 1
            case.members.append(CaseMember(inspector_id=candidates.ids[cert], certificate_no=cert,
                                           position=max(m.position for m in case.members) + 1,
                                           state=MemberState.ASSIGNED, replaces_id=member.id))
            pending.append(user_id)
    db.session.flush()
    return {"pending_users": pending, "team_short": short}


@task_form("case_assign_member")
def _validate_assign(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The section chief names an inspector when the draw has no eligible replacement left."""
    if not user.has_role(Role.SECTION_CHIEF):
        raise Forbidden("only a section chief assigns inspectors")
    case = get_case(task.subject_id)
    raw = str(form.get("inspector_id") or "")
    inspector = db.session.get(Inspector, int(raw)) if raw.isdigit() else None
    if inspector is None or not inspector.active:
        raise ValidationFailed({"inspector_id": ["choose an active inspector"]})
    if any(m.inspector_id == inspector.id for m in case.members):
        raise ValidationFailed({"inspector_id": ["this inspector is already on the case"]})
    if db.session.scalar(select(InspectorConflict.id).where(InspectorConflict.inspector_id == inspector.id,
                                                            InspectorConflict.entity_id == case.entity_id)):
        raise ValidationFailed({"inspector_id": ["this inspector declared a conflict with the entity"]})
    account = _users_by_inspector({inspector.id}).get(inspector.id)
    if account is None:
        raise ValidationFailed({"inspector_id": ["this inspector has no active login"]})
    case.members.append(CaseMember(inspector_id=inspector.id, certificate_no=inspector.certificate_no,
                                   position=max(m.position for m in case.members) + 1, state=MemberState.ASSIGNED))
    db.session.flush()
    return {"pending_users": [account], "team_short": False}


@service_task("cases.set_status")
def _set_status(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    get_case(int(data["case_id"])).status = CaseStatus(params["status"])
