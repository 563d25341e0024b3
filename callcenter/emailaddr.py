"""E-mail addresses: one validator (``email-validator``) and header values built with
``email.headerregistry.Address``, so a display name is always quoted as one name and an
address is always exactly one address (no "a@x, b@y", no "Name <a@x>" smuggled in)."""

from __future__ import annotations

from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email

from callcenter.inputs import has_line_break


class AddressError(ValueError):
    """Not one valid e-mail address; the message says why."""


def normalise_address(raw: str) -> str:
    """``raw`` as one normalised address (domain lower-cased, IDN to Unicode), or
    :class:`AddressError`. No DNS look-up: tests and offline installations have none."""
    text = raw.strip()
    if not text or has_line_break(text) or any(c in text for c in ",;<>"):
        raise AddressError("must be one e-mail address such as name@example.org")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None


def header_address(addr_spec: str, display_name: str = "") -> Address:
    """An ``Address`` for To/From/Cc headers; the name is quoted by the e-mail package."""
    if has_line_break(display_name):
        raise AddressError("the name must be on one line")
    try:
        address = Address(display_name=display_name, addr_spec=normalise_address(addr_spec))
    except (ValueError, IndexError) as exc:  # the e-mail package's own parser refused it
        raise AddressError(f"not one e-mail address: {exc}") from None
    return address
