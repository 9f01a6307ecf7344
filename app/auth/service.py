"""Accounts: password hashing, authentication, roles and bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from app.auth.models import ApiToken, User, UserRole
from app.auth.roles import Role
from app.db import utcnow
from app.extensions import db
from app.errors import NotFound, ValidationFailed
from app.i18n import lazy_text as _l


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"])


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    if len(password) < 8:
        raise ValidationFailed({"password": [_l("at least %(n)d characters", n=8)]})
    return _hasher().hash(password)


# A hash of nothing in particular, checked when the user is unknown so that timing does not
# reveal which usernames exist.
_DUMMY_HASH: str | None = None


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    global _DUMMY_HASH
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    hasher = _hasher()
    if user is None or not user.is_active_account:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash(secrets.token_hex(8))
        try:
            hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        db.session.commit()
    return user


def create_user(
    username: str,
    password: str,
    display_name: str,
    roles: Iterable[Role | str],
    *,
    department_id: int | None = None,
    inspector_id: int | None = None,
    locale: str | None = None,
) -> User:
    """Create an account holding ``roles``; the caller commits."""
    role_values = {Role(r) for r in roles}
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise ValidationFailed({"username": [_l("already taken")]})
    if Role.INSPECTOR in role_values and inspector_id is None:
        raise ValidationFailed({"inspector_id": [_l("an inspector account must be linked to an inspector record")]})
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        department_id=department_id,
        inspector_id=inspector_id,
        locale=locale,
    )
    user.roles = [UserRole(role=str(r)) for r in sorted(role_values)]
    db.session.add(user)
    db.session.flush()
    return user


def set_roles(user: User, roles: Iterable[Role | str]) -> None:
    """Replace the user's roles."""
    wanted = {str(Role(r)) for r in roles}
    user.roles = [r for r in user.roles if r.role in wanted] + [
        UserRole(role=r) for r in sorted(wanted - user.role_names)
    ]


def get_user_by_username(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(_l("no user named %(name)s", name=username))
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, label: str = "") -> str:
    """A new bearer token for ``user``; the plain token is returned once and never stored."""
    token = "sj_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token), label=label))
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The active user a bearer token belongs to, or None."""
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked.is_(False))
    )
    if row is None or not row.user.is_active_account:
        return None
    row.last_used_at = utcnow()
    return row.user


def revoke_tokens(user: User) -> int:
    """Revoke every token of ``user``; returns how many."""
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False)))
    count = 0
    for row in rows:
        row.revoked = True
        count += 1
    db.session.commit()
    return count
