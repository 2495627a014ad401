"""E-mail addresses as the suppression list knows them: the bare address, and the hash that outlives an erasure."""

from __future__ import annotations

import hashlib
from email.utils import parseaddr


def email_hash(address: str) -> str:
    """What the suppression list keeps of an address: it must outlive the address's erasure."""
    return hashlib.sha256(b"immoflow-suppression:" + address.strip().lower().encode()).hexdigest()


def address_of(recipient: str) -> str:
    """The bare, lower-case address of a recipient header ("Lea <lea@x.de>" -> "lea@x.de")."""
    return parseaddr(recipient)[1].lower()
