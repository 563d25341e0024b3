"""Phones in the database: create (password shown once), reset, delete, list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from callcenter.db.session import Database
from lines.models import Phone
from lines.phones import PhoneError, PhoneSpec, new_password, password_digest


@dataclass(frozen=True, slots=True)
class NewCredentials:
    """What the person provisioning a phone sees once: user name, realm and password."""

    name: str
    realm: str
    password: str


class PhoneStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[Phone]:
        async with self.db.session() as session:
            rows = await session.scalars(select(Phone).order_by(Phone.name))
            return list(rows)

    async def specs(self) -> list[PhoneSpec]:
        return [
            PhoneSpec(p.name, p.kind, p.label, p.realm, p.password_digest, p.auto_answer)
            for p in await self.all()
        ]

    async def create(
        self, name: str, kind: str, label: str, realm: str, *, auto_answer: bool = True
    ) -> tuple[Phone, NewCredentials]:
        password = new_password()
        phone = Phone(
            name=name,
            kind=kind,
            label=label,
            realm=realm,
            password_digest=password_digest(name, realm, password),
            auto_answer=auto_answer,
        )
        try:
            async with self.db.session() as session:
                session.add(phone)
        except IntegrityError:
            raise PhoneError("name", f"a phone {name!r} exists already") from None
        return phone, NewCredentials(name, realm, password)

    async def new_password(self, name: str, realm: str) -> NewCredentials | None:
        """A fresh password for ``name`` (the old one stops working at the next reload)."""
        password = new_password()
        async with self.db.session() as session:
            phone = await session.scalar(select(Phone).where(Phone.name == name))
            if phone is None:
                return None
            phone.realm = realm
            phone.password_digest = password_digest(name, realm, password)
        return NewCredentials(name, realm, password)

    async def delete(self, name: str) -> bool:
        async with self.db.session() as session:
            result = await session.execute(delete(Phone).where(Phone.name == name))
        return bool(getattr(result, "rowcount", 0))
