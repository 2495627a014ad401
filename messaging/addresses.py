"""E-mail addresses as SMTP needs them: validated by email-validator, IDN domains in their ASCII form.

`eva@müller.de` is a real address, but `formataddr` and the SMTP envelope want ASCII: the domain goes out
as `xn--mller-kva.de`. An address no server can take without SMTPUTF8 (a non-ASCII local part) cannot be
sent by retrying; it fails the step for good, with the reason.
"""

from __future__ import annotations

from email.utils import formataddr

import email_validator
from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from temporalio.exceptions import ApplicationError

from messaging.outbox import header_safe

# `.local` is how the demo office and many office-internal mail servers name their mailboxes
# (anfragen@immoflow.local); email-validator's documented special-use list would refuse it.
if "local" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("local")


class UndeliverableAddressError(ValueError):
    """The address cannot be sent to over plain SMTP."""


def checked(address: str, *, smtputf8: bool, strict: bool = False) -> ValidatedEmail:
    """ADDRESS checked by email-validator (syntax only: no DNS); raises EmailNotValidError with the reason."""
    return validate_email(
        address,
        check_deliverability=False,
        allow_smtputf8=smtputf8,
        globally_deliverable=strict,
        strict=strict,
        test_environment=True,
    )


def smtp_address(address: str) -> str:
    """ADDRESS in the ASCII form SMTP takes; raises UndeliverableAddressError with the reason."""
    try:
        info = checked(address, smtputf8=True)
    except EmailNotValidError as exc:
        raise UndeliverableAddressError(f"{address!r}: {exc}") from None
    if info.ascii_email is None:
        raise UndeliverableAddressError(f"{address!r}: needs SMTPUTF8 (non-ASCII before the '@')")
    return info.ascii_email


def mailbox(name: str | None, address: str) -> str:
    """`Name <ascii address>` for a composed message; a bad address is a permanent activity failure."""
    try:
        return formataddr((header_safe(name or ""), smtp_address(address)))
    except UndeliverableAddressError as exc:
        raise ApplicationError(str(exc), type="InvalidAddress", non_retryable=True) from None
