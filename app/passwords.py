"""Passwords: argon2id hashes through pwdlib, and the rules a new password must meet.

Nothing here logs or returns a password; error messages describe the rule, never the value.
"""

from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.errors import AppError

MIN_LENGTH = 10
MAX_LENGTH = 256  # long enough for any passphrase, short enough that hashing cannot be abused
MIN_DISTINCT_CHARACTERS = 5
# The most common passwords of at least MIN_LENGTH characters in public breach lists.
COMMON = frozenset(
    {
        "1234567890", "12345678910", "0123456789", "1111111111", "0000000000", "9876543210",
        "qwertyuiop", "1q2w3e4r5t", "1qaz2wsx3edc", "password123", "password1234", "passw0rd123",
        "iloveyou123", "qwerty1234", "qwerty12345", "abcdefghij", "abc1234567", "letmein123",
        "welcome123", "administrator", "changeme123", "football123", "monkey12345", "dragon12345",
    }
)

# argon2id with argon2-cffi's RFC 9106 defaults (64 MiB, 3 passes, 4 lanes): about 0.2 s on 2 cores.
RECOMMENDED = PasswordHash((Argon2Hasher(),))
_hasher = RECOMMENDED


@cache
def _dummy_hash() -> str:
    # Verified against when an email is unknown, so a wrong email costs as much time as a wrong password.
    return _hasher.hash("an unguessable placeholder that is never anyone's password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; with no hash, spends the same time and says no."""
    if password_hash is None:
        _hasher.verify(password, _dummy_hash())
        return False
    return _hasher.verify(password, password_hash)


def check_new_password(password: str, *, email: str = "", display_name: str = "", field: str = "password") -> None:
    """Raise a 422 naming `field` and the rule when `password` is too weak to accept."""
    if len(password) < MIN_LENGTH:
        raise AppError(422, f"{field}: use at least {MIN_LENGTH} characters (this one has {len(password)}).")
    if len(password) > MAX_LENGTH:
        raise AppError(422, f"{field}: use at most {MAX_LENGTH} characters.")
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise AppError(422, f"{field}: use at least {MIN_DISTINCT_CHARACTERS} different characters.")
    lowered = password.lower()
    if lowered in COMMON:
        raise AppError(422, f"{field}: this is one of the most common passwords; choose another.")
    local_part = email.lower().partition("@")[0]
    if (len(local_part) >= 4 and local_part in lowered) or (display_name and lowered == display_name.lower()):
        raise AppError(422, f"{field}: do not build the password from your email or name.")
