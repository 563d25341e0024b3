"""Password hashing: argon2id (``argon2-cffi``, ADR 0005); scrypt hashes still verify.

New hashes are argon2id in the PHC string format (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``)
with argon2-cffi's default cost. Hashes written before (``scrypt$n=<N>,r=<r>,p=<p>$<salt>$
<hash>``, stdlib scrypt) still verify; :func:`needs_rehash` says yes for them and for
argon2 hashes of a lower cost, and the login re-hashes the password it has just checked.

:func:`check_strength` refuses short and overlong passwords, and for admins (``strict``)
also those shorter than :data:`MIN_ADMIN_PASSWORD_LENGTH`, common ones and ones that
contain the username.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from callcenter.common_passwords import is_common

SCHEME = "scrypt"
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # hashing cost does not grow with length, but bound the input
MIN_ADMIN_PASSWORD_LENGTH = 12
ARGON2_PREFIX = "$argon2"

_HASHER = argon2.PasswordHasher()  # argon2id, RFC 9106's second recommended profile


class InvalidHash(ValueError):
    """A stored hash string is not in the format written by :func:`hash_password`."""


class WeakPassword(ValueError):
    """A new password that is refused (too short, too long)."""


@dataclass(frozen=True, slots=True)
class Params:
    """scrypt cost: memory ≈ 128·n·r bytes, time ∝ n·r·p."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def maxmem(self) -> int:
        return 128 * self.n * self.r * (self.p + 1) + 1024 * 1024

    def weaker_than(self, other: Params) -> bool:
        return self.n < other.n or self.r < other.r or self.p < other.p


DEFAULT_PARAMS = Params()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, params: Params, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem(),
        dklen=length,
    )


def check_strength(password: str, *, strict: bool = False, username: str = "") -> None:
    """Raise :class:`WeakPassword` saying why ``password`` cannot be used; ``strict`` (admin
    accounts) adds the length, common-password and username rules."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    if not strict:
        return
    if len(password) < MIN_ADMIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"an admin password must have at least {MIN_ADMIN_PASSWORD_LENGTH} characters"
        )
    if is_common(password):
        raise WeakPassword("password is one of the most common passwords: choose another")
    if username and username.lower() in password.lower():
        raise WeakPassword("password must not contain the username")


def hash_password(password: str, params: Params | None = None) -> str:
    """A fresh salted argon2id hash of ``password`` (strength is the caller's business);
    with scrypt ``params`` a legacy scrypt hash (tests, old installations)."""
    if params is None:
        return _HASHER.hash(password)
    return scrypt_hash(password, params)


def scrypt_hash(password: str, params: Params = DEFAULT_PARAMS) -> str:
    """A salted scrypt hash in the format this project wrote before argon2id."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _derive(password, salt, params, HASH_BYTES)
    return f"{SCHEME}$n={params.n},r={params.r},p={params.p}${_b64(salt)}${_b64(digest)}"


def parse(stored: str) -> tuple[Params, bytes, bytes]:
    """Split a stored hash into parameters, salt and digest; :class:`InvalidHash` if malformed."""
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != SCHEME:
        raise InvalidHash(f"not a {SCHEME} hash (expected {SCHEME}$n=..,r=..,p=..$salt$hash)")
    try:
        fields = dict(item.split("=", 1) for item in parts[1].split(","))
        params = Params(n=int(fields["n"]), r=int(fields["r"]), p=int(fields["p"]))
        salt, digest = _unb64(parts[2]), _unb64(parts[3])
    except (KeyError, ValueError) as exc:
        raise InvalidHash(f"malformed {SCHEME} hash parameters or encoding: {exc}") from None
    if params.n < 2 or params.n & (params.n - 1) or params.r < 1 or params.p < 1:
        raise InvalidHash(f"invalid scrypt parameters {params}")
    if not salt or len(digest) < 16:
        raise InvalidHash("salt or digest too short")
    return params, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored`` (argon2id or legacy scrypt), in constant time.

    Raises :class:`InvalidHash` for a malformed stored value (a data problem, not a wrong
    password, so it must not look like one).
    """
    if stored.startswith(ARGON2_PREFIX):
        try:
            return _HASHER.verify(stored, password)
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError) as exc:
            raise InvalidHash(f"malformed argon2 hash: {exc}") from None
    params, salt, digest = parse(stored)
    candidate = _derive(password, salt, params, len(digest))
    return hmac.compare_digest(candidate, digest)


def needs_rehash(stored: str) -> bool:
    """True if ``stored`` should be replaced by a fresh argon2id hash: any scrypt hash, an
    argon2 hash of other parameters than today's, or an unreadable value."""
    if stored.startswith(ARGON2_PREFIX):
        try:
            return _HASHER.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            return True
    return True


# Verified against when the user does not exist, so both failures cost the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def burn_verification_time(password: str) -> None:
    """Spend the time of one verification (for unknown users: no timing oracle)."""
    verify_password(password, _DUMMY_HASH)
