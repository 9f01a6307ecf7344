"""API: who am I."""
from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("auth_api", __name__, url_prefix="/me", description="The calling user")


class MeSchema(Schema):
    id = fields.Int()
    username = fields.Str()
    display_name = fields.Str()
    roles = fields.List(fields.Str())
    locale = fields.Str(allow_none=True)


@blp.get("")
@blp.response(200, MeSchema)
def me():  # type: ignore[no-untyped-def]
    """The user the bearer token belongs to, with their roles."""
    return {
        "id": current_user.id,
        "username": current_user.username,
        "display_name": current_user.display_name,
        "roles": sorted(current_user.role_names),
        "locale": current_user.locale,
    }
