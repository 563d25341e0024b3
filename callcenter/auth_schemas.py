"""Request and response models of ``/api/auth/*`` (the API contract, docs/api.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    """Username and password."""

    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    """The logged-in user."""

    id: int
    username: str
    display_name: str | None
    role: str


class LoginOut(BaseModel):
    """A bearer token (also set as the HttpOnly session cookie) and who it is for."""

    token: str
    token_type: str
    expires_at: str
    user: UserOut


class TenantRef(BaseModel):
    """A tenant a user may see: its numeric id and its slug (both name it in the API)."""

    id: int
    slug: str
    name: str


class MeOut(BaseModel):
    """Who is calling; ``tenants`` is null for staff (they see every tenant)."""

    id: int
    username: str
    display_name: str | None
    role: str
    tenants: list[TenantRef] | None


class LoggedOut(BaseModel):
    """The token used for the request is revoked."""

    status: str
