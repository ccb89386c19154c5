import base64

import pytest
from django.test import override_settings

from members import crypto

NEW_KEY = "k2:" + base64.b64encode(b"n" * 32).decode()
OLD_KEY = "dev1:" + base64.b64encode(b"dev-only-encryption-key-32bytes!").decode()


def test_values_carry_their_key_id_and_differ_each_time():
    first = crypto.encrypt("13800138000", purpose="member.phone")
    second = crypto.encrypt("13800138000", purpose="member.phone")

    assert first.startswith("dev1$")
    assert first != second
    assert crypto.decrypt(first, purpose="member.phone") == "13800138000"


def test_old_values_stay_readable_after_a_new_key_is_put_in_front():
    sealed_with_old = crypto.encrypt("secret", purpose="p")

    with override_settings(LIUDONG_ENCRYPTION_KEYS=f"{NEW_KEY},{OLD_KEY}"):
        resealed = crypto.encrypt("secret", purpose="p")
        assert crypto.decrypt(sealed_with_old, purpose="p") == "secret"

    assert crypto.key_id_of(resealed) == "k2"


def test_a_value_moved_to_another_column_fails_authentication():
    sealed = crypto.encrypt("secret", purpose="member.phone")

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(sealed, purpose="member.id_number")


def test_a_tampered_value_fails_authentication():
    sealed = crypto.encrypt("secret", purpose="p")
    kid, _, body = sealed.partition("$")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(f"{kid}${base64.b64encode(bytes(raw)).decode()}", purpose="p")


def test_the_blind_index_is_stable_and_keyed():
    first = crypto.blind_index("11010519491231002X")

    with override_settings(
        LIUDONG_BLIND_INDEX_KEY=base64.b64encode(b"b" * 32).decode()
    ):
        other_key = crypto.blind_index("11010519491231002X")

    assert first == crypto.blind_index("11010519491231002X")
    assert first != other_key
    assert len(first) == 32
