"""Request and response models of the web application's JSON routes (the API contract)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PasswordChangeIn(BaseModel):
    """The current password and the new one (at least the project's minimum length)."""

    current: str = Field(min_length=1, max_length=1024)
    new: str = Field(min_length=1, max_length=1024)


class PasswordChangedOut(BaseModel):
    """Every other session of the user has ended; this browser has a new session cookie."""

    status: Literal["changed"]
    other_sessions: Literal["ended"]


class PreferencesIn(BaseModel):
    """The user's UI language."""

    locale: Literal["de", "en"]


class PreferencesOut(BaseModel):
    locale: Literal["de", "en"]


class SupervisionOut(BaseModel):
    """The supervisor's phone (``phone``) is being rung into the receptionist's call."""

    agent_id: int
    mode: Literal["listen", "whisper", "barge"]
    phone: str
