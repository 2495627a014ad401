"""AES-256-GCM payload codec with key ids, so keys can be rotated while old histories stay readable.

Every payload the client and the worker send (workflow inputs, activity results, signals, memos, and
failure messages, see `starter.temporal.client.data_converter`) is replaced by one whose data is
`nonce || ciphertext+tag` of the original serialized payload. The metadata says which key was used, so
a new key can become active while the old ones keep decrypting. Search attributes are not payloads the
codec sees: they must never hold personal data anyway.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random per payload, so never reused under one key
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CodecConfigError(ValueError):
    """IMMOFLOW_CODEC_KEYS / IMMOFLOW_CODEC_ACTIVE_KEY cannot be used as given."""


class CodecKeyError(ValueError):
    """A payload cannot be decrypted: its key id is unknown here, or the data does not authenticate."""


def parse_keys(spec: str) -> dict[str, bytes]:
    """'k2:<base64>,k1:<base64>' → {'k2': …, 'k1': …}, in the given order; every key must be 32 bytes."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise CodecConfigError(
                f"codec key {key_id[:20]!r}: expected 'id:base64' with an id of letters, digits, '.', '_', '-'"
            )
        if key_id in keys:
            raise CodecConfigError(f"codec key id {key_id!r} is listed twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as exc:
            raise CodecConfigError(f"codec key {key_id!r} is not valid base64") from exc
        if len(key) != KEY_BYTES:
            raise CodecConfigError(f"codec key {key_id!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        keys[key_id] = key
    if not keys:
        raise CodecConfigError("IMMOFLOW_CODEC_KEYS is set but holds no key")
    return keys


def new_key() -> str:
    """A fresh key in the format IMMOFLOW_CODEC_KEYS expects after 'id:'."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise CodecConfigError(
                f"active codec key {active_key_id!r} is not among IMMOFLOW_CODEC_KEYS ({', '.join(keys)})"
            )
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too: a payload relabelled with another id fails instead of decrypting.
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        # Payloads written before the codec was switched on stay readable.
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(
                f"payload was encrypted with codec key id {key_id!r}, which is not in IMMOFLOW_CODEC_KEYS "
                f"(known: {', '.join(self._ciphers)}); add that key back to read it"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag as exc:
            raise CodecKeyError(
                f"payload does not authenticate with codec key {key_id!r}: wrong key material or corrupted data"
            ) from exc
        return Payload.FromString(plain)


def codec_from_settings(settings: Settings) -> EncryptionCodec | None:
    """None when IMMOFLOW_CODEC_KEYS is unset (the development default): payloads stay plain JSON."""
    if settings.codec_keys is None or not settings.codec_keys.get_secret_value().strip():
        return None
    keys = parse_keys(settings.codec_keys.get_secret_value())
    # An empty IMMOFLOW_CODEC_ACTIVE_KEY (compose's `${VAR:-}`) means "the first key".
    active = settings.codec_active_key or next(iter(keys))
    return EncryptionCodec(keys, active)
