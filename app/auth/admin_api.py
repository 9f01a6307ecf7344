"""API of user administration, for administrators only: mounted at /api/v1/users.

The same rules as the pages (``app.auth.admin``). Generated passwords and new tokens are
returned once, in the answer that made them; nothing can read them again.
"""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from app.auth import admin
from app.auth.decorators import roles_required
from app.auth.models import User
from app.auth.roles import Role
from app.directory.schemas import DomainErrorSchema
from app.directory.service import DEFAULT_PER_PAGE, MAX_PER_PAGE
from app.extensions import db
from app.i18n import SUPPORTED_LOCALES

blp = Blueprint("users_api", __name__, url_prefix="/users", description="User accounts (administrators only)")

# The role check wraps the argument parsing: a caller without the role learns nothing
# from validation messages.
admins_only = roles_required(Role.ADMIN)

_ROLES = {"enum": list(admin.ROLE_VALUES)}
_LOCALES = {"enum": list(SUPPORTED_LOCALES)}


# --------------------------------------------------------------------------- schemas


class UserQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.Str(load_default="", metadata={"description": "Part of the username or display name"})
    role = fields.Str(load_default=None, metadata=_ROLES)
    active = fields.Bool(load_default=None, allow_none=True)
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class UserSchema(Schema):
    id = fields.Int()
    username = fields.Str()
    display_name = fields.Str()
    roles = fields.List(fields.Str(metadata=_ROLES))
    department_id = fields.Int(allow_none=True)
    inspector_id = fields.Int(allow_none=True)
    locale = fields.Str(allow_none=True, metadata=_LOCALES)
    active = fields.Bool()
    active_tokens = fields.Int(metadata={"description": "Unrevoked API tokens"})
    last_token_used_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class UserPageSchema(Schema):
    items = fields.List(fields.Nested(UserSchema))
    total = fields.Int()
    page = fields.Int()
    per_page = fields.Int()
    pages = fields.Int()


class UserCreateSchema(Schema):
    username = fields.Str(required=True, metadata={"pattern": admin.USERNAME_RE.pattern})
    display_name = fields.Str(required=True)
    password = fields.Str(load_default=None, allow_none=True, load_only=True,
                          metadata={"description": "At least 8 characters; omit it to have one generated"})
    roles = fields.List(fields.Str(metadata=_ROLES), required=True)
    department_id = fields.Int(load_default=None, allow_none=True)
    inspector_id = fields.Int(load_default=None, allow_none=True,
                              metadata={"description": "Required with the inspector role"})
    locale = fields.Str(load_default=None, allow_none=True, metadata=_LOCALES)


class UserCreatedSchema(UserSchema):
    generated_password = fields.Str(allow_none=True, metadata={"description": "Shown only in this answer"})


class UserUpdateSchema(Schema):
    display_name = fields.Str()
    roles = fields.List(fields.Str(metadata=_ROLES))
    department_id = fields.Int(allow_none=True)
    inspector_id = fields.Int(allow_none=True)
    locale = fields.Str(allow_none=True, metadata=_LOCALES)
    active = fields.Bool(metadata={"description": "false revokes every API token of the user"})


class PasswordResetSchema(Schema):
    password = fields.Str(load_default=None, allow_none=True, load_only=True,
                          metadata={"description": "At least 8 characters; omit it to have one generated"})


class PasswordResetResultSchema(Schema):
    generated_password = fields.Str(allow_none=True, metadata={"description": "Shown only in this answer"})


class TokenIssueSchema(Schema):
    label = fields.Str(load_default="", validate=validate.Length(max=admin.TOKEN_LABEL_MAX))


class TokenSchema(Schema):
    token = fields.Str(metadata={"description": "The bearer token; shown only in this answer"})
    label = fields.Str()


class RevokedSchema(Schema):
    revoked = fields.Int(metadata={"description": "How many tokens were still valid"})


# --------------------------------------------------------------------------- helpers


def _out(user: User, stats: admin.TokenStats | None = None) -> dict[str, Any]:
    if stats is None:
        stats = admin.token_stats([user.id]).get(user.id, admin.TokenStats())
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "roles": sorted(user.role_names),
        "department_id": user.department_id,
        "inspector_id": user.inspector_id,
        "locale": user.locale,
        "active": user.is_active_account,
        "active_tokens": stats.active,
        "last_token_used_at": stats.last_used_at,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


# --------------------------------------------------------------------------- endpoints


@blp.get("")
@admins_only
@blp.arguments(UserQuerySchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(args: dict[str, Any]) -> dict[str, Any]:
    """Search accounts by username or display name, filtered by role and state."""
    page = admin.search_users(current_user, **args)
    stats = admin.token_stats(u.id for u in page.items)
    return {
        "items": [_out(u, stats.get(u.id, admin.TokenStats())) for u in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
    }


@blp.post("")
@admins_only
@blp.arguments(UserCreateSchema)
@blp.response(201, UserCreatedSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def create_user(data: dict[str, Any]) -> dict[str, Any]:
    """Create an account; without a password one is generated and returned once."""
    user, generated = admin.create_account(current_user, **data)
    db.session.commit()
    return dict(_out(user), generated_password=generated)


@blp.get("/<int:user_id>")
@admins_only
@blp.response(200, UserSchema)
@blp.alt_response(404, schema=DomainErrorSchema)
def get_user(user_id: int) -> dict[str, Any]:
    """One account."""
    return _out(admin.get_user(current_user, user_id))


@blp.patch("/<int:user_id>")
@admins_only
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def update_user(data: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Change some fields of an account. An admin cannot demote or deactivate themselves,
    nor the last active admin; deactivating revokes the user's tokens."""
    user = admin.update_account(current_user, user_id, **data)
    db.session.commit()
    return _out(user)


@blp.post("/<int:user_id>/password")
@admins_only
@blp.arguments(PasswordResetSchema, required=False)
@blp.response(200, PasswordResetResultSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def reset_password(data: dict[str, Any] | None, user_id: int) -> dict[str, Any]:
    """Set a new password; without one a password is generated and returned once."""
    generated = admin.reset_password(current_user, user_id, (data or {}).get("password"))
    db.session.commit()
    return {"generated_password": generated}


@blp.post("/<int:user_id>/tokens")
@admins_only
@blp.arguments(TokenIssueSchema, required=False)
@blp.response(201, TokenSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def issue_token(data: dict[str, Any] | None, user_id: int) -> dict[str, Any]:
    """Issue an API token for the account; the token is in this answer only."""
    label = (data or {}).get("label", "")
    token = admin.issue_token(current_user, user_id, label)
    db.session.commit()
    return {"token": token, "label": label.strip()}


@blp.delete("/<int:user_id>/tokens")
@admins_only
@blp.response(200, RevokedSchema)
@blp.alt_response(404, schema=DomainErrorSchema)
def revoke_tokens(user_id: int) -> dict[str, Any]:
    """Revoke every API token of the account."""
    count = admin.revoke_tokens(current_user, user_id)
    db.session.commit()
    return {"revoked": count}
