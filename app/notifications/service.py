"""Sending and reading notifications."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update

from app.db import utcnow
from app.extensions import db
from app.notifications.models import Notification


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it: it is translated when shown."""
    return message


def notify(user_ids: Iterable[int], message: str, *, link: str = "", **params: Any) -> int:
    """Queue ``message`` (an English msgid with %(name)s placeholders) for each user; no commit."""
    rows = [Notification(user_id=uid, message=message, params=json.dumps(params, ensure_ascii=False), link=link)
            for uid in sorted(set(user_ids))]
    db.session.add_all(rows)
    return len(rows)


def unread_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    ) or 0


def recent(user_id: int, limit: int = 50) -> list[Notification]:
    """The user's latest notifications, newest first."""
    return list(db.session.scalars(
        select(Notification).where(Notification.user_id == user_id).order_by(Notification.id.desc()).limit(limit)
    ))


def mark_all_read(user_id: int) -> None:
    db.session.execute(
        update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None)).values(read_at=utcnow())
    )


def params_of(note: Notification) -> dict[str, Any]:
    return json.loads(note.params or "{}")
