"""Passwords: argon2id with the recommended parameters, and new passwords checked with clear messages."""

import pytest

from app import passwords
from app.errors import AppError


def test_the_production_hasher_is_argon2id_with_the_rfc_parameters():
    hashed = passwords.RECOMMENDED.hash("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.RECOMMENDED.verify("correct horse battery staple", hashed)


def test_a_hash_verifies_its_password_and_nothing_else():
    hashed = passwords.hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$") and "correct" not in hashed
    assert passwords.verify_password("correct horse battery staple", hashed)
    assert not passwords.verify_password("correct horse battery stapler", hashed)
    assert not passwords.verify_password("anything", None)


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1", "at least 10 characters (this one has 6)"),
        ("x" * 257, "at most 256 characters"),
        ("abababababab", "at least 5 different characters"),
        ("Password123", "most common passwords"),
        ("ada.lovelace-2024", "email or name"),
    ],
)
def test_a_weak_password_is_refused_naming_the_field_and_the_rule(password, rule):
    with pytest.raises(AppError) as refused:
        passwords.check_new_password(password, email="ada.lovelace@example.org")
    assert refused.value.status_code == 422
    assert refused.value.detail.startswith("password: ") and rule in refused.value.detail
    assert password not in refused.value.detail


def test_a_passphrase_is_accepted():
    passwords.check_new_password("four random words here", email="ada@example.org", display_name="Ada")
