"""Pure decisions of the inquiry manager, kept apart from I/O so they are tested exhaustively."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.inquiry_models import ExceptionField, ExceptionRule


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def match_exception(
    rules: Sequence[ExceptionRule],
    *,
    portal: str,
    property_ref: str | None,
    email: str,
    mailbox: str | None,
) -> ExceptionRule | None:
    """The first configured exception that applies (rules are in the office's order)."""
    facts = {
        ExceptionField.PORTAL: portal.lower(),
        ExceptionField.PROPERTY: (property_ref or "").lower(),
        ExceptionField.EMAIL_DOMAIN: email_domain(email),
        ExceptionField.MAILBOX: (mailbox or "").lower(),
    }
    for rule in rules:
        if facts[rule.field] and facts[rule.field] == rule.value:
            return rule
    return None
