"""Password hashing for office logins: scrypt from the standard library, verified in constant time.

The stored form names its parameters (`scrypt$n$r$p$salt$hash`), so raising the cost later keeps old
hashes verifiable; `needs_rehash` tells the login code when to store a stronger one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
# 2**14 × r 8 needs 16 MiB and ~50 ms per check: slow for guessing, fine for a login.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAX_N = 2**20  # a stored hash must not make us allocate gigabytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=2 * 128 * r * n + 2**20
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P, KEY_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when PASSWORD matches STORED; False for a wrong password and for any malformed or missing hash."""
    if not stored:
        return False
    try:
        scheme, n_text, r_text, p_text, salt_text, key_text = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = _unb64(salt_text), _unb64(key_text)
    except ValueError:
        return False
    if scheme != SCHEME or not (1 < n <= _MAX_N and n & (n - 1) == 0) or not (0 < r <= 32 and 0 < p <= 16):
        return False
    if not expected:
        return False
    actual = _derive(password, salt, n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """True when STORED was made with other parameters than today's (verify first, then rehash)."""
    return not stored.startswith(f"{SCHEME}${N}${R}${P}$")
