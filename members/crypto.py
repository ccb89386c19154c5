"""Field encryption and blind indexes for personal data.

Values are sealed with AES-256-GCM (an authenticated cipher from the
``cryptography`` package) and stored as ``<key id>$<base64 nonce+ciphertext>``
so that old values stay readable after a new key is added in front. Look-ups
never decrypt: they compare an HMAC-SHA256 of the normalised value (the blind
index) computed with a separate key that is never used for encryption.
"""

import base64
import functools
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models

_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value could not be opened with any configured key."""


@functools.cache
def _keyring() -> tuple[str, dict[str, AESGCM]]:
    keys: dict[str, AESGCM] = {}
    current = ""
    for entry in settings.LIUDONG_ENCRYPTION_KEYS.split(","):
        kid, _, encoded = entry.strip().partition(":")
        raw = base64.b64decode(encoded)
        if not kid or "$" in kid or len(raw) != 32:
            raise ImproperlyConfigured(
                "LIUDONG_ENCRYPTION_KEYS entries must be kid:base64(32 bytes)"
            )
        keys[kid] = AESGCM(raw)
        current = current or kid
    return current, keys


@functools.cache
def _blind_index_key() -> bytes:
    raw = base64.b64decode(settings.LIUDONG_BLIND_INDEX_KEY)
    if len(raw) < 32:
        raise ImproperlyConfigured("LIUDONG_BLIND_INDEX_KEY must be 32+ bytes")
    return raw


def _clear_key_caches(*, setting: str, **kwargs) -> None:
    if setting in {"LIUDONG_ENCRYPTION_KEYS", "LIUDONG_BLIND_INDEX_KEY"}:
        _keyring.cache_clear()
        _blind_index_key.cache_clear()


setting_changed.connect(_clear_key_caches)


def current_key_id() -> str:
    return _keyring()[0]


def encrypt(plaintext: str, *, purpose: str) -> str:
    """Seal a value with the current key, bound to its column's purpose."""
    kid, keys = _keyring()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = keys[kid].encrypt(nonce, plaintext.encode(), purpose.encode())
    return f"{kid}${base64.b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, purpose: str) -> str:
    """Open a value sealed by :func:`encrypt` with whichever key sealed it."""
    kid, _, body = token.partition("$")
    key = _keyring()[1].get(kid)
    if key is None:
        raise DecryptionError(f"unknown encryption key id {kid!r}")
    raw = base64.b64decode(body)
    try:
        plain = key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose.encode())
    except Exception as exc:  # InvalidTag: tampered or wrong column
        raise DecryptionError("stored value failed authentication") from exc
    return plain.decode()


def key_id_of(token: str) -> str:
    return token.partition("$")[0]


def blind_index(normalised_value: str) -> bytes:
    """Return the keyed hash used to find a value without decrypting it."""
    return hmac.new(
        _blind_index_key(), normalised_value.encode(), hashlib.sha256
    ).digest()


class EncryptedTextField(models.TextField):
    """A text column encrypted before its values reach PostgreSQL."""

    def __init__(self, *args, purpose: str = "", **kwargs):
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value, purpose=self.purpose)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value, purpose=self.purpose)
