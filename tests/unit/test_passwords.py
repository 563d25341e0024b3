"""scrypt password hashes: round trip, format, upgrade detection, malformed input."""

from __future__ import annotations

import hashlib

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


def test_default_parameters_are_used_and_verified() -> None:
    stored = hash_password("a default-cost password")
    assert parse(stored)[0] == passwords.DEFAULT_PARAMS
    assert verify_password("a default-cost password", stored)
    assert not needs_rehash(stored)


def test_weaker_parameters_need_rehash() -> None:
    assert needs_rehash(hash_password("pw123456", FAST))
    assert needs_rehash("garbage")
    strong = Params(n=2**11, r=8, p=2)
    assert not needs_rehash(hash_password("pw123456", strong), FAST)


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


def test_burn_verification_time_runs_one_full_cost_derivation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The cost of the work done, not a timing: one scrypt of the password at the default
    # parameters, as for a real user (so response times do not reveal unknown usernames).
    real, seen = hashlib.scrypt, []

    def spy(password: bytes, **kwargs: int | bytes) -> bytes:
        seen.append((password, kwargs["n"], kwargs["r"], kwargs["p"]))
        return real(password, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hashlib, "scrypt", spy)
    for password in ("whatever", "Grüße-ß", ""):
        passwords.burn_verification_time(password)
    d = passwords.DEFAULT_PARAMS
    assert seen == [(pw.encode(), d.n, d.r, d.p) for pw in ("whatever", "Grüße-ß", "")]
