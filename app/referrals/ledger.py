"""The referral ledger (工作台帐): every open branch of every open referral with the deadline
that runs, overdue first, then by deadline; and the referrals still waiting for triage."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case as sql_case, func, nulls_last, select
from sqlalchemy.orm import joinedload

from app.cases.models import InspectionCase
from app.directory.service import Page, paginate
from app.extensions import db
from app.referrals.handling import local_today
from app.referrals.models import BranchStatus, Disposition, Referral, ReferralBranch, ReferralStatus

DEFAULT_PER_PAGE = 50
TRIAGE_LIMIT = 50


@dataclass(frozen=True)
class LedgerFilters:
    """What the ledger is narrowed to: one disposition, and/or overdue branches only."""

    disposition: str | None = None
    overdue: bool = False


def parse_disposition(value: str | None) -> str | None:
    """A disposition code from a query string; None for blank; ValueError for an unknown code."""
    value = (value or "").strip()
    if not value:
        return None
    if value not in {d.value for d in Disposition}:
        raise ValueError(f"unknown disposition {value!r}")
    return value


def ledger(filters: LedgerFilters, page: int = 1, per_page: int = DEFAULT_PER_PAGE,
           today: date | None = None) -> Page[ReferralBranch]:
    """One page of open branches of open referrals: overdue first, then by deadline (none last)."""
    today = today or local_today()
    overdue = and_(ReferralBranch.due_on.is_not(None), ReferralBranch.due_on < today)
    conditions: list[Any] = [
        ReferralBranch.status == BranchStatus.OPEN,
        ReferralBranch.referral_id.in_(select(Referral.id).where(Referral.status == ReferralStatus.OPEN)),
    ]
    if filters.disposition:
        conditions.append(ReferralBranch.disposition == filters.disposition)
    if filters.overdue:
        conditions.append(overdue)
    order = (sql_case((overdue, 0), else_=1), nulls_last(ReferralBranch.due_on.asc()), ReferralBranch.id)
    options = (joinedload(ReferralBranch.referral).joinedload(Referral.case).joinedload(InspectionCase.entity),)
    return paginate(ReferralBranch, conditions, order, page, per_page, options=options)


def overdue_count(today: date | None = None) -> int:
    """Open branches of open referrals past their deadline, over the whole ledger."""
    today = today or local_today()
    return db.session.scalar(
        select(func.count()).select_from(ReferralBranch).join(Referral).where(
            ReferralBranch.status == BranchStatus.OPEN, Referral.status == ReferralStatus.OPEN,
            ReferralBranch.due_on < today)) or 0


def awaiting_triage(limit: int = TRIAGE_LIMIT) -> tuple[list[Referral], int]:
    """The oldest referrals still waiting for the legal officer's triage (at most ``limit``), and their number."""
    condition = Referral.status == ReferralStatus.TRIAGE
    total = db.session.scalar(select(func.count()).select_from(Referral).where(condition)) or 0
    rows = list(db.session.scalars(
        select(Referral).where(condition).order_by(Referral.opened_at, Referral.id).limit(limit)
        .options(joinedload(Referral.case).joinedload(InspectionCase.entity))))
    return rows, total
