"""Writing, listing and verifying the hash-chained audit log.

``record`` appends one row in the caller's transaction; the caller commits (or rolls
back, and then the row never existed). Writers are serialised so that the chain stays
linear: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by taking the
database's write lock before the last row is read. Either way the id is the previous
id + 1 and is the primary key, so two writers that raced past the lock would collide
on the key instead of forking the chain.

``verify_chain`` re-computes every hash in id order and names the first row that was
changed or that follows a removed row. Removing the newest rows cannot be seen from the
table alone; compare the head hash ``flask audit verify`` prints with a copy kept elsewhere.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, text

from app.audit.models import GENESIS_HASH, AuditEntry
from app.auth.models import User
from app.db import utcnow
from app.directory.service import DEFAULT_PER_PAGE, Page, paginate
from app.extensions import db

# pg_advisory_xact_lock key of the audit chain ("sjaudit" as an integer): any constant works
# as long as every writer uses the same one and nothing else does.
ADVISORY_LOCK_KEY = int.from_bytes(b"sjaudit", "big")


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of re-computing the chain."""

    ok: bool
    checked: int  # rows checked, up to and including the first bad one
    first_bad_id: int | None = None
    problem: str = ""
    head_hash: str | None = None  # hash of the last row when the chain is intact


def canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys and no spaces (non-JSON values as strings)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    prev_hash: str,
    *,
    id: int,
    at: datetime,
    actor_user_id: int | None,
    actor_name: str,
    action: str,
    subject_type: str | None,
    subject_id: str | None,
    details: str,
) -> str:
    """sha256(prev_hash + canonical JSON of the row's fields), as 64 hex digits."""
    payload = {
        "id": id,
        "at": at.astimezone(timezone.utc).isoformat(timespec="microseconds"),
        "actor_user_id": actor_user_id,
        "actor_name": actor_name,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
    }
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def _hash_of(row: Any) -> str:
    return entry_hash(
        row.prev_hash, id=row.id, at=row.at, actor_user_id=row.actor_user_id, actor_name=row.actor_name,
        action=row.action, subject_type=row.subject_type, subject_id=row.subject_id, details=row.details,
    )


def lock_chain() -> None:
    """Make this transaction the only audit writer until it ends (idempotent).

    ``record`` calls it; a caller that reads something and then records a change to it
    may call it first, so that its read and its entry are serialised alike.
    """
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    else:
        # SQLite locks the whole database for writing at a transaction's first write; a write
        # that changes nothing takes that lock now, before the last row is read, so no other
        # connection can append between our read and our commit.
        session.execute(text("UPDATE audit_entry SET id = id WHERE 1 = 0"))


def _actor_name(actor: User | None) -> str:
    if actor is None:
        return ""
    return f"{actor.display_name} ({actor.username})"[:200]


def record(
    action: str,
    *,
    actor: User | None,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
    details: dict | None = None,
) -> AuditEntry:
    """Append an entry to the chain in the current transaction (the caller commits)."""
    session = db.session
    lock_chain()
    last = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    entry = AuditEntry(
        id=(last.id + 1) if last else 1,
        at=utcnow(),
        actor_user_id=actor.id if actor is not None else None,
        actor_name=_actor_name(actor),
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        details=canonical_json(details or {}),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    entry.hash = _hash_of(entry)
    session.add(entry)
    session.flush()  # the next record() in this transaction reads this row as the last one
    return entry


def _rows() -> Iterator[Any]:
    columns = (AuditEntry.id, AuditEntry.at, AuditEntry.actor_user_id, AuditEntry.actor_name, AuditEntry.action,
               AuditEntry.subject_type, AuditEntry.subject_id, AuditEntry.details, AuditEntry.prev_hash,
               AuditEntry.hash)
    # Streamed in batches: the log grows without bound, the check must not hold it all in memory.
    yield from db.session.execute(
        select(*columns).order_by(AuditEntry.id).execution_options(yield_per=2000)
    )


def verify_chain() -> VerifyResult:
    """Re-compute the chain in id order; names the first changed row or the row after a removal."""
    expected_prev, expected_id, checked = GENESIS_HASH, 1, 0
    for row in _rows():
        checked += 1
        if row.id != expected_id:
            missing = (f"id {expected_id}" if row.id == expected_id + 1
                       else f"ids {expected_id}-{row.id - 1}")
            return VerifyResult(False, checked, row.id, f"{missing} missing before row {row.id}: rows were removed")
        if row.prev_hash != expected_prev:
            return VerifyResult(False, checked, row.id,
                                f"row {row.id} does not link to the row before it: a row was removed or replaced")
        recomputed = _hash_of(row)
        if recomputed != row.hash:
            return VerifyResult(False, checked, row.id, f"row {row.id} was changed: its hash does not match")
        expected_prev, expected_id = row.hash, row.id + 1
    return VerifyResult(True, checked, head_hash=expected_prev if checked else None)


def list_entries(
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
) -> Page[AuditEntry]:
    """Entries newest first, optionally filtered by action and subject."""
    conditions = []
    if action:
        conditions.append(AuditEntry.action == action)
    if subject_type:
        conditions.append(AuditEntry.subject_type == subject_type)
    if subject_id is not None and subject_id != "":
        conditions.append(AuditEntry.subject_id == str(subject_id))
    return paginate(AuditEntry, conditions, (AuditEntry.id.desc(),), page, per_page)


def actions() -> list[str]:
    """Every action that occurs in the log, sorted (for the filter of the audit page)."""
    return list(db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
