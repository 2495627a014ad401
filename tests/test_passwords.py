"""Office login passwords: scrypt hashes, salted, verified in constant time, robust to garbage."""

from __future__ import annotations

import pytest

from domain.passwords import hash_password, needs_rehash, verify_password


def test_hash_verifies_only_the_right_password() -> None:
    stored = hash_password("demo")
    assert stored.startswith("scrypt$")
    assert "demo" not in stored
    assert verify_password("demo", stored)
    assert not verify_password("Demo", stored)
    assert not verify_password("demo ", stored)
    assert not verify_password("", stored)


def test_same_password_gets_a_new_salt_each_time() -> None:
    first, second = hash_password("geheim"), hash_password("geheim")
    assert first != second
    assert verify_password("geheim", first) and verify_password("geheim", second)


def test_unicode_passwords() -> None:
    stored = hash_password("Grüße-🏠")
    assert verify_password("Grüße-🏠", stored)
    assert not verify_password("Grusse-🏠", stored)


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "plaintext",
        "bcrypt$12$abc",
        "scrypt$16384$8$1$$",
        "scrypt$notanumber$8$1$c2FsdA$a2V5",
        "scrypt$1073741824$8$1$c2FsdA$a2V5",  # absurd cost from a tampered row must not exhaust memory
        "scrypt$16383$8$1$c2FsdA$a2V5",  # n must be a power of two
        "scrypt$16384$8$1$!!!$a2V5",
    ],
)
def test_malformed_hashes_never_verify(stored: str | None) -> None:
    assert verify_password("demo", stored) is False


def test_needs_rehash_when_parameters_change() -> None:
    assert not needs_rehash(hash_password("x"))
    assert needs_rehash("scrypt$1024$8$1$c2FsdA$a2V5")
