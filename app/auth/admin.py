"""User administration: the rules behind the admin pages and the ``/api/v1/users`` API.

Every function takes plain arguments (the acting user first) and returns models or plain
values; it raises ``ValidationFailed``, ``Forbidden`` or ``NotFound``. Writers flush but
never commit: the caller owns the transaction (as in ``app.auth.service``).

Rules kept here so that pages and API cannot disagree:

* only administrators administer accounts;
* an administrator can neither drop their own admin role nor deactivate themselves, and
  the last active administrator can never lose the role or be deactivated: the system
  never locks itself out;
* a user holding the inspector role is linked to one inspector record, and an inspector
  record to at most one user;
* deactivating a user revokes their API tokens (and Flask-Login refuses their session).
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.auth import service
from app.auth.models import ApiToken, User, UserRole
from app.auth.roles import Role
from app.directory.models import Department, Inspector
from app.directory.service import DEFAULT_PER_PAGE, MAX_PER_PAGE, Page
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.i18n import SUPPORTED_LOCALES
from app.i18n import lazy_text as _l

USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,64}")
PASSWORD_MIN = 8
PASSWORD_MAX = 256
DISPLAY_NAME_MAX = 128
TOKEN_LABEL_MAX = 128
ROLE_VALUES = tuple(r.value for r in Role)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "leave as it is" in partial updates (None means "clear")

Errors = dict[str, list[Any]]


@dataclass(frozen=True)
class TokenStats:
    active: int = 0
    last_used_at: datetime | None = None


# --------------------------------------------------------------------------- helpers


def _require_admin(actor: Any) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_role(Role.ADMIN):
        raise Forbidden(_l("only an administrator may manage user accounts"))


def _add(errors: Errors, field: str, message: Any) -> None:
    errors.setdefault(field, []).append(message)


def generate_password() -> str:
    """A random password of 16 URL-safe characters (about 96 bits)."""
    return secrets.token_urlsafe(12)


def _check_password(password: str | None, errors: Errors, field: str = "password") -> None:
    if password is None or len(password) < PASSWORD_MIN:
        _add(errors, field, _l("at least %(n)d characters", n=PASSWORD_MIN))
    elif len(password) > PASSWORD_MAX:
        _add(errors, field, _l("at most %(n)d characters", n=PASSWORD_MAX))


def _clean_roles(roles: Iterable[str] | None, errors: Errors) -> set[str]:
    wanted = {str(r).strip() for r in (roles or []) if str(r).strip()}
    unknown = sorted(wanted - set(ROLE_VALUES))
    if unknown:
        _add(errors, "roles", _l("unknown role: %(roles)s", roles=", ".join(unknown)))
    wanted &= set(ROLE_VALUES)
    if not wanted and not unknown:
        _add(errors, "roles", _l("choose at least one role"))
    return wanted


def _clean_display_name(value: str | None, errors: Errors) -> str:
    name = (value or "").strip()
    if not name:
        _add(errors, "display_name", _l("required"))
    elif len(name) > DISPLAY_NAME_MAX:
        _add(errors, "display_name", _l("at most %(n)d characters", n=DISPLAY_NAME_MAX))
    return name


def _clean_locale(value: str | None, errors: Errors) -> str | None:
    if value in (None, ""):
        return None
    if value not in SUPPORTED_LOCALES:
        _add(errors, "locale", _l("must be one of %(choices)s", choices=", ".join(SUPPORTED_LOCALES)))
    return value


def _check_department(department_id: int | None, errors: Errors) -> None:
    if department_id is not None and db.session.get(Department, department_id) is None:
        _add(errors, "department_id", _l("department %(id)s does not exist", id=department_id))


def _check_inspector(inspector_id: int | None, user: User | None, errors: Errors) -> None:
    """The inspector exists and no other account is linked to it."""
    if inspector_id is None or (user is not None and user.inspector_id == inspector_id):
        return  # keeping the current link is always allowed
    inspector = db.session.get(Inspector, inspector_id)
    if inspector is None:
        _add(errors, "inspector_id", _l("inspector %(id)s does not exist", id=inspector_id))
        return
    if not inspector.active:
        _add(errors, "inspector_id", _l("inspector %(name)s is inactive", name=inspector.name))
        return
    holder = db.session.scalar(select(User.username).where(User.inspector_id == inspector_id))
    if holder is not None:
        _add(errors, "inspector_id", _l("inspector %(name)s is already linked to the account %(username)s",
                                        name=inspector.name, username=holder))


def _flush(message: Any) -> None:
    """Flush; a unique key taken by a concurrent writer since the checks becomes a Conflict."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(message) from exc


def _audit(action: str, actor: Any, user: User, details: dict[str, Any] | None = None) -> None:
    """One audit entry about ``user``, in the caller's transaction (written last: see app.audit)."""
    from app.audit import service as audit

    # Only an account can be named as the actor; anything else acting (a script) is logged as no one.
    audit.record(action, actor=actor if isinstance(actor, User) else None, subject_type="user",
                 subject_id=user.id, details={"username": user.username} | (details or {}))


def _is_active_admin(user: User) -> bool:
    return user.is_active_account and user.has_role(Role.ADMIN)


def _ensure_another_admin(user: User) -> None:
    """Refuse to let ``user`` stop being an active admin if no other active admin remains."""
    is_admin = exists().where(UserRole.user_id == User.id, UserRole.role == Role.ADMIN.value)
    # Lock every active admin's row first (PostgreSQL; SQLite serialises writers anyway) so that
    # two admins demoting each other at the same moment cannot both succeed. The count runs as
    # a new statement, so it sees whatever a transaction we waited for has committed.
    db.session.execute(
        select(User.id).where(User.is_active_account.is_(True), is_admin).order_by(User.id).with_for_update()
    )
    others = db.session.scalar(
        select(func.count()).select_from(User).where(User.is_active_account.is_(True), is_admin, User.id != user.id)
    )
    if not others:
        raise ValidationFailed({"roles": [_l("%(username)s is the last active administrator", username=user.username)]})


def _revoke_tokens(user_id: int) -> int:
    result = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False)).values(revoked=True)
    )
    return result.rowcount or 0


# --------------------------------------------------------------------------- reading


def get_user(actor: Any, user_id: int) -> User:
    """The account with this id; NotFound otherwise."""
    _require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("user %(id)s not found", id=user_id))
    return user


def search_users(
    actor: Any,
    q: str = "",
    *,
    role: str | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page[User]:
    """Accounts whose username or display name contains ``q``, filtered, ordered by username."""
    _require_admin(actor)
    conditions: list[ColumnElement[bool]] = []
    term = (q or "").strip()
    if term:
        conditions.append(or_(User.username.icontains(term, autoescape=True),
                              User.display_name.icontains(term, autoescape=True)))
    if role:
        if role not in ROLE_VALUES:
            raise ValidationFailed({"role": [_l("unknown role: %(roles)s", roles=role)]})
        conditions.append(exists().where(UserRole.user_id == User.id, UserRole.role == role))
    if active is not None:
        conditions.append(User.is_active_account.is_(active))
    page = max(1, int(page or 1))
    per_page = min(MAX_PER_PAGE, max(1, int(per_page or DEFAULT_PER_PAGE)))
    total = db.session.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    items = list(db.session.scalars(
        select(User).where(*conditions).order_by(User.username).limit(per_page).offset((page - 1) * per_page)
    ))
    return Page(items=items, total=total, page=page, per_page=per_page)


def token_stats(user_ids: Iterable[int]) -> dict[int, TokenStats]:
    """For each user: how many unrevoked tokens they hold and when a token of theirs was last used."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(
            ApiToken.user_id,
            func.count().filter(ApiToken.revoked.is_(False)),
            func.max(ApiToken.last_used_at),
        ).where(ApiToken.user_id.in_(ids)).group_by(ApiToken.user_id)
    )
    return {uid: TokenStats(active or 0, last) for uid, active, last in rows}


def list_tokens(actor: Any, user_id: int) -> list[ApiToken]:
    """Every token of the user, newest first (their hashes only: the tokens themselves are not kept)."""
    user = get_user(actor, user_id)
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def inspector_choices(current_id: int | None = None) -> list[Inspector]:
    """Active inspectors no account is linked to yet, plus ``current_id`` (the edited user's own link)."""
    linked = select(User.inspector_id).where(User.inspector_id.is_not(None))
    if current_id is not None:
        linked = linked.where(User.inspector_id != current_id)
    free = or_(Inspector.id == current_id, Inspector.active.is_(True)) if current_id else Inspector.active.is_(True)
    return list(db.session.scalars(
        select(Inspector).where(free, Inspector.id.not_in(linked)).order_by(Inspector.name, Inspector.id)
    ))


# --------------------------------------------------------------------------- writing


def create_account(
    actor: Any,
    *,
    username: str,
    display_name: str,
    roles: Iterable[str],
    password: str | None = None,
    department_id: int | None = None,
    inspector_id: int | None = None,
    locale: str | None = None,
) -> tuple[User, str | None]:
    """Create an account. Without ``password`` one is generated and returned (show it once);
    with one, the second value is None."""
    _require_admin(actor)
    errors: Errors = {}
    username = (username or "").strip()
    if not USERNAME_RE.fullmatch(username):
        _add(errors, "username", _l("3 to 64 characters: letters, digits, and . _ -"))
    elif db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        _add(errors, "username", _l("already taken"))
    name = _clean_display_name(display_name, errors)
    generated = None
    if password in (None, ""):
        password = generated = generate_password()
    else:
        _check_password(password, errors)
    wanted = _clean_roles(roles, errors)
    if Role.INSPECTOR.value in wanted and inspector_id is None:
        _add(errors, "inspector_id", _l("an inspector account must be linked to an inspector record"))
    _check_inspector(inspector_id, None, errors)
    _check_department(department_id, errors)
    locale = _clean_locale(locale, errors)
    if errors:
        raise ValidationFailed(errors)
    user = service.create_user(username, password, name, sorted(wanted), department_id=department_id,
                               inspector_id=inspector_id, locale=locale)
    _flush(_l("the username or the inspector was taken at the same moment; try again"))
    _audit("user.created", actor, user, {
        "display_name": user.display_name, "roles": sorted(wanted), "department_id": department_id,
        "inspector_id": inspector_id, "password": "generated" if generated else "set"})
    return user, generated


def update_account(
    actor: Any,
    user_id: int,
    *,
    display_name: Any = UNSET,
    roles: Any = UNSET,
    department_id: Any = UNSET,
    inspector_id: Any = UNSET,
    locale: Any = UNSET,
    active: Any = UNSET,
) -> User:
    """Change some fields of an account (``UNSET`` leaves a field; None clears an optional one)."""
    user = get_user(actor, user_id)
    errors: Errors = {}
    name = user.display_name if display_name is UNSET else _clean_display_name(display_name, errors)
    wanted = set(user.role_names) if roles is UNSET else _clean_roles(roles, errors)
    new_inspector = user.inspector_id if inspector_id is UNSET else inspector_id
    new_department = user.department_id if department_id is UNSET else department_id
    new_locale = user.locale if locale is UNSET else _clean_locale(locale, errors)
    new_active = user.is_active_account if active is UNSET else bool(active)

    if Role.INSPECTOR.value in wanted and new_inspector is None:
        _add(errors, "inspector_id", _l("an inspector account must be linked to an inspector record"))
    _check_inspector(new_inspector, user, errors)
    if department_id is not UNSET:
        _check_department(new_department, errors)

    loses_admin = _is_active_admin(user) and (Role.ADMIN.value not in wanted or not new_active)
    if loses_admin and user.id == actor.id:
        if Role.ADMIN.value not in wanted:
            _add(errors, "roles", _l("you cannot remove your own administrator role"))
        if not new_active:
            _add(errors, "active", _l("you cannot deactivate your own account"))
    if errors:
        raise ValidationFailed(errors)
    if loses_admin:
        _ensure_another_admin(user)

    before = {"display_name": user.display_name, "department_id": user.department_id,
              "inspector_id": user.inspector_id, "locale": user.locale}
    old_roles, was_active = sorted(user.role_names), user.is_active_account
    user.display_name = name
    if roles is not UNSET:
        service.set_roles(user, sorted(wanted))
    user.inspector_id = new_inspector
    user.department_id = new_department
    user.locale = new_locale
    if user.is_active_account and not new_active:
        _revoke_tokens(user.id)
    user.is_active_account = new_active
    _flush(_l("the inspector was linked to another account at the same moment; try again"))
    # One entry per kind of change, so that the audit page can filter role changes and deactivations.
    if sorted(wanted) != old_roles:
        _audit("user.roles_changed", actor, user, {"from": old_roles, "to": sorted(wanted)})
    if was_active != new_active:
        _audit("user.activated" if new_active else "user.deactivated", actor, user)
    after = {"display_name": user.display_name, "department_id": user.department_id,
             "inspector_id": user.inspector_id, "locale": user.locale}
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changes:
        _audit("user.updated", actor, user, {"changes": changes})
    return user


def reset_password(actor: Any, user_id: int, password: str | None = None) -> str | None:
    """Give the account a new password. Without ``password`` one is generated and returned."""
    user = get_user(actor, user_id)
    generated = None
    if password in (None, ""):
        password = generated = generate_password()
    else:
        errors: Errors = {}
        _check_password(password, errors)
        if errors:
            raise ValidationFailed(errors)
    user.password_hash = service.hash_password(password)
    db.session.flush()
    _audit("user.password_reset", actor, user, {"password": "generated" if generated else "set"})
    return generated


def change_own_password(user: Any, current_password: str, new_password: str) -> None:
    """A logged-in user changes their own password, proving they know the current one."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise Forbidden(_l("log in first"))
    errors: Errors = {}
    try:
        ok = service._hasher().verify(user.password_hash, current_password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        _add(errors, "current_password", _l("the current password is wrong"))
    _check_password(new_password, errors, "new_password")
    if not errors and new_password == current_password:
        _add(errors, "new_password", _l("must differ from the current password"))
    if errors:
        raise ValidationFailed(errors)
    user.password_hash = service.hash_password(new_password)
    db.session.flush()
    _audit("user.password_changed", user, user)


def issue_token(actor: Any, user_id: int, label: str = "") -> str:
    """A new API token for the account; the plain token is returned once and never stored."""
    user = get_user(actor, user_id)
    label = (label or "").strip()
    errors: Errors = {}
    if len(label) > TOKEN_LABEL_MAX:
        _add(errors, "label", _l("at most %(n)d characters", n=TOKEN_LABEL_MAX))
    if not user.is_active_account:
        _add(errors, "_", _l("the account is inactive: activate it first"))
    if errors:
        raise ValidationFailed(errors)
    token = "sj_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=service._token_digest(token), label=label))
    db.session.flush()
    _audit("user.token_issued", actor, user, {"label": label})
    return token


def revoke_tokens(actor: Any, user_id: int) -> int:
    """Revoke every API token of the account; returns how many were still valid."""
    user = get_user(actor, user_id)
    count = _revoke_tokens(user.id)
    db.session.flush()
    _audit("user.tokens_revoked", actor, user, {"revoked": count})
    return count
