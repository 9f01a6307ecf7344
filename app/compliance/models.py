"""What the compliance checks keep between runs: the verifier's verdict on each drawn round."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class DrawVerification(db.Model):
    """The independent verifier's verdict on a round, valid for exactly the bytes it read.

    Re-running ``tools/verify_draw.py`` on a million-entity pool takes minutes, so the verdict
    is kept with the SHA-256 of the stored dossier and of the frozen pool it was computed
    from. A check re-uses it only while both hashes still match: a changed byte in either
    blob makes the verdict stale and the round is verified again.
    """

    __tablename__ = "draw_verification"

    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"), primary_key=True)
    dossier_sha256: Mapped[str] = mapped_column(String(64))
    pool_sha256: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool]
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    verified_at: Mapped[datetime]
    duration_ms: Mapped[int]
