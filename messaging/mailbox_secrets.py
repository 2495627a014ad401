"""Mailbox passwords at rest: Fernet (AES-128-CBC + HMAC) under a key derived from IMMOFLOW_SECRET_KEY.

The IMAP password has to be recoverable (IMAP LOGIN needs it), so it is encrypted, never hashed. A separate
HKDF label keeps this key distinct from the link and session signing keys made from the same secret.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from settings import Settings

_INFO = b"immoflow mailbox password v1"


class MailboxSecretError(Exception):
    """The stored password cannot be decrypted (the secret key changed): re-enter it on the mailbox page."""


def _fernet(settings: Settings) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        settings.effective_secret_key().encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_password(settings: Settings, password: str) -> str:
    return _fernet(settings).encrypt(password.encode()).decode("ascii")


def decrypt_password(settings: Settings, token: str) -> str:
    try:
        return _fernet(settings).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise MailboxSecretError(
            "Das gespeicherte Postfach-Passwort lässt sich nicht entschlüsseln (Schlüssel geändert?); "
            "bitte neu eingeben."
        ) from None
