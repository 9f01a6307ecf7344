"""Which inspectors a task's draw may match, and their state at the sitting.

The dossier lists the active inspectors of the inspecting departments. Which
departments inspect follows the task's mode (市抽市查, 市抽县查, 县抽县查, 市县联查):
the lead department's bureau (its root department) supplies its city-level
units when the city checks and its county-level units when counties check;
joint departments (and their units) always join.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from app.cases.models import OPEN_CASE_STATUSES, CaseMember, InspectionCase, MemberState
from app.directory.models import Department, DepartmentLevel, Entity, Inspector, InspectorConflict
from app.draws import algorithm
from app.extensions import db
from app.plans.models import InspectionMode, SpotCheckTask

CITY_CHECKS = {InspectionMode.CITY_CITY, InspectionMode.CITY_COUNTY_JOINT}
COUNTY_CHECKS = {InspectionMode.CITY_COUNTY, InspectionMode.COUNTY_COUNTY, InspectionMode.CITY_COUNTY_JOINT}


def _descendants(roots: set[int], parents: dict[int, int | None]) -> set[int]:
    found = set(roots)
    changed = True
    while changed:
        changed = False
        for dept_id, parent in parents.items():
            if parent in found and dept_id not in found:
                found.add(dept_id)
                changed = True
    return found


def inspecting_departments(task: SpotCheckTask) -> set[int]:
    """Ids of the departments whose inspectors the task's draw may match."""
    rows = db.session.execute(select(Department.id, Department.parent_id, Department.level)).tuples().all()
    parents = {dept_id: parent for dept_id, parent, _ in rows}
    levels = {dept_id: level for dept_id, _, level in rows}
    root = task.lead_department_id
    while parents.get(root) is not None:
        root = parents[root]  # type: ignore[assignment]
    bureau = _descendants({root}, parents)
    wanted = {task.lead_department_id} | _descendants({task.lead_department_id}, parents)
    if task.mode in CITY_CHECKS:
        wanted |= {d for d in bureau if levels[d] != DepartmentLevel.COUNTY}
    if task.mode in COUNTY_CHECKS:
        wanted |= {d for d in bureau if levels[d] == DepartmentLevel.COUNTY}
    wanted |= _descendants({d.id for d in task.joint_departments}, parents)
    return wanted


@dataclass
class InspectorSnapshot:
    candidates: list[algorithm.InspectorCandidate]  # sorted by certificate number
    ids: dict[str, int]  # certificate number -> inspector id


def snapshot(task: SpotCheckTask) -> InspectorSnapshot:
    """Active inspectors of the inspecting departments, with open cases and declared conflicts."""
    departments = inspecting_departments(task)
    inspectors = db.session.execute(
        select(Inspector.id, Inspector.certificate_no, Inspector.station, Inspector.qualifications)
        .where(Inspector.active.is_(True), Inspector.department_id.in_(departments))
        .order_by(Inspector.certificate_no)
    ).tuples().all()
    ids = [row[0] for row in inspectors]
    open_cases = dict(
        db.session.execute(
            select(CaseMember.inspector_id, func.count(CaseMember.id))
            .join(InspectionCase, InspectionCase.id == CaseMember.case_id)
            .where(
                CaseMember.inspector_id.in_(ids),
                CaseMember.state != MemberState.RECUSED,
                InspectionCase.status.in_(OPEN_CASE_STATUSES),
            )
            .group_by(CaseMember.inspector_id)
        ).tuples().all()
    )
    conflicts: dict[int, set[str]] = defaultdict(set)
    for inspector_id, uscc in db.session.execute(
        select(InspectorConflict.inspector_id, Entity.uscc)
        .join(Entity, Entity.id == InspectorConflict.entity_id)
        .where(InspectorConflict.inspector_id.in_(ids))
    ).tuples():
        conflicts[inspector_id].add(uscc)
    candidates = [
        algorithm.InspectorCandidate(
            certificate_no=cert,
            station=station or "",
            qualifications=tuple(quals or ()),
            open_cases=open_cases.get(inspector_id, 0),
            conflicts=frozenset(conflicts.get(inspector_id, ())),
        )
        for inspector_id, cert, station, quals in inspectors
    ]
    return InspectorSnapshot(candidates, {cert: inspector_id for inspector_id, cert, _, _ in inspectors})
