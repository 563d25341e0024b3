"""Request and response models of the lines routes (the OpenAPI contract)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PhoneIn(BaseModel):
    """A phone to provision; ``name`` is its endpoint and SIP user name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$", examples=["desk-anna"])
    kind: Literal["sip", "webrtc"] = "sip"
    label: str = Field("", max_length=200)
    auto_answer: bool = True


class PhoneOut(BaseModel):
    name: str
    kind: str
    label: str
    auto_answer: bool
    interface: str = Field(examples=["PJSIP/desk-anna"])
    registered: bool
    device_state: str


class PhoneList(BaseModel):
    phones: list[PhoneOut]


class Credentials(BaseModel):
    """Shown once: the server keeps only the digest of ``password``."""

    username: str
    password: str
    realm: str
    registrar: str = Field(examples=["127.0.0.1:5060"])
    note: str


class PhoneCreated(BaseModel):
    phone: PhoneOut
    credentials: Credentials


class NewPassword(BaseModel):
    credentials: Credentials


class LineOut(BaseModel):
    endpoint: str
    kind: Literal["trunk", "phone"]
    up: bool
    device_state: str
    registration: str | None
    since: float


class LinesStatus(BaseModel):
    """Trunks and phones by endpoint name."""

    trunks: dict[str, LineOut]
    phones: dict[str, LineOut]


class OwnPhone(BaseModel):
    name: str
    realm: str
    ha1: str = Field(description="MD5 of name:realm:password (SIP digest HA1)")


class SoftphoneSettings(BaseModel):
    websocket: str = Field(examples=["wss://callcenter.example/ws/sip"])
    domain: str
    ice_networks: list[str]
    phone: OwnPhone | None = Field(
        description="The caller's own browser phone (receptionist position), else null"
    )
