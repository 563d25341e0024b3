"""Password hashes: argon2id by default, legacy scrypt still verified and upgraded; round
trip, format, upgrade detection, malformed input, strength rules."""

from __future__ import annotations

import argon2
import pytest

from callcenter import passwords
from callcenter.passwords import (
    InvalidHash,
    Params,
    WeakPassword,
    check_strength,
    hash_password,
    needs_rehash,
    parse,
    verify_password,
)

FAST = Params(n=2**10, r=8, p=1)  # cheap parameters keep the unit tests quick


def test_roundtrip_and_wrong_password() -> None:
    stored = hash_password("Korrekt Pferd Batterie", FAST)
    assert verify_password("Korrekt Pferd Batterie", stored)
    assert not verify_password("korrekt pferd batterie", stored)
    assert not verify_password("", stored)


def test_non_ascii_passwords() -> None:
    stored = hash_password("Grüße-aus-Köln-ß", FAST)
    assert verify_password("Grüße-aus-Köln-ß", stored)
    assert not verify_password("Grusse-aus-Koln-ss", stored)


def test_format_is_self_describing_and_salted() -> None:
    first = hash_password("same password", FAST)
    second = hash_password("same password", FAST)
    assert first != second  # random salt
    assert first.startswith("scrypt$n=1024,r=8,p=1$")
    params, salt, digest = parse(first)
    assert params == FAST and len(salt) == passwords.SALT_BYTES
    assert len(digest) == passwords.HASH_BYTES


def test_default_is_argon2id_and_needs_no_rehash() -> None:
    stored = hash_password("a default-cost password")
    assert stored.startswith("$argon2id$v=19$")
    assert verify_password("a default-cost password", stored)
    assert not verify_password("a default-cost passwort", stored)
    assert not needs_rehash(stored)


def test_scrypt_and_weaker_argon2_need_rehash() -> None:
    assert needs_rehash(hash_password("pw123456", FAST))  # any scrypt hash
    assert needs_rehash(passwords.scrypt_hash("pw123456"))
    assert needs_rehash("garbage")
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192).hash("pw123456")
    assert verify_password("pw123456", weak) and needs_rehash(weak)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "bcrypt$n=1024,r=8,p=1$c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$n=1024,r=8$c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$n=1000,r=8,p=1$c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$n=x,r=8,p=1$c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$n=1024,r=8,p=1$$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$n=1024,r=8,p=1$c2FsdA$ZGln",
        "scrypt$n=1024,r=8,p=1$c2FsdA$!!!",
        "$argon2id$v=19$m=65536,t=3,p=4$broken",
    ],
)
def test_malformed_hashes_raise_not_false(stored: str) -> None:
    with pytest.raises(InvalidHash):
        verify_password("anything", stored)


def test_strength_rules_say_what_is_wrong() -> None:
    check_strength("12345678")
    with pytest.raises(WeakPassword, match="at least 8 characters"):
        check_strength("short")
    with pytest.raises(WeakPassword, match="at most 1024"):
        check_strength("x" * 1025)


def test_burn_verification_time_runs_one_full_cost_verification(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The cost of the work done, not a timing: one argon2id verification at today's
    # parameters, as for a real user (so response times do not reveal unknown usernames).
    seen: list[tuple[str, str]] = []
    real = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, stored: str, password: str) -> bool:
        seen.append((stored.split("$")[3], password))
        return real(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    for password in ("whatever", "Grüße-ß", ""):
        passwords.burn_verification_time(password)
    params = hash_password("x").split("$")[3]
    assert seen == [(params, pw) for pw in ("whatever", "Grüße-ß", "")]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw1", "at least 12"),
        ("Passwort2024!", "most common"),
        ("qwertz123456", "most common"),
        ("chef-admin-2026-x", "username"),
    ],
)
def test_admin_passwords_are_checked_harder(password: str, reason: str) -> None:
    check_strength(password)  # fine for a receptionist
    with pytest.raises(WeakPassword, match=reason):
        check_strength(password, strict=True, username="Chef-Admin")
    check_strength("Korrekt Pferd Batterie Heftklammer", strict=True, username="chef-admin")
