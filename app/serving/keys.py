"""API keys: creating one (the secret shown once, only its sha256 stored), listing and revoking them, and
finding the owner of a presented key for /v1. Database work only; callers run it in the thread pool.

A key acts for the learner that created it and, when that learner belongs to an account, for every learner
of the account, so a key sees the same runs as the lab pages do.
"""

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.accounts import required_line
from app.db import owns_any, reading, transaction
from app.errors import AppError
from app.models import Learner, utcnow
from app.serving.models import ApiKey
from app.serving.overrides import serving_limits
from app.settings import Settings

KEY_PREFIX = "ftp-"  # "fine-tuning in practice": tells a reader (and a secret scanner) what the key is for
PREFIX_CHARS = 12  # "ftp-" and 8 random characters: enough to tell keys apart in a list, useless to guess with
MAX_KEY_CHARS = 200
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often, not on every request


@dataclass(frozen=True)
class KeyPublic:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "prefix": self.prefix, "created_at": _iso(self.created_at),
                "last_used_at": _iso(self.last_used_at), "revoked_at": _iso(self.revoked_at)}


@dataclass(frozen=True)
class KeyOwner:
    """Who a valid key acts for: its id (limits count per key), the learners whose runs it may serve, and the
    owner its streams count against (`user:<id>` for an account, else the learner: as the lab event streams)."""

    key_id: int
    learner_ids: tuple[str, ...]
    stream_owner: str


def _iso(moment: datetime | None) -> str | None:
    return _aware(moment).isoformat() if moment else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _public(key: ApiKey) -> KeyPublic:
    return KeyPublic(key.id, key.name, key.prefix, key.created_at, key.last_used_at, key.revoked_at)


def clean_key_name(name: object) -> str:
    if not isinstance(name, str):
        raise AppError(422, "name: a short text naming where the key is used, like 'laptop notebook'.")
    return required_line(name, "name", "name the key after where you will use it, like 'laptop notebook'.", 80)


def create_key(factory: sessionmaker[Session], learner_id: str, learner_ids: Collection[str], user_id: int | None,
               name: object, cap: int) -> tuple[KeyPublic, str]:
    """A new key for `learner_id`; (its public view, the secret). 409 past `cap` active keys of this owner."""
    name = clean_key_name(name)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    with transaction(factory) as session:
        active = session.scalar(select(func.count()).select_from(ApiKey).where(
            ApiKey.learner_id.in_(learner_ids), ApiKey.revoked_at.is_(None)))
        if active >= cap:
            raise AppError(409, f"You have {active} API keys, the most this server allows (serving_keys_per_user = "
                                f"{cap}); revoke one first.")
        if session.get(Learner, learner_id) is None:
            session.add(Learner(id=learner_id))
            session.flush()
        key = ApiKey(learner_id=learner_id, user_id=user_id, name=name, prefix=secret[:PREFIX_CHARS],
                     hash=_digest(secret), created_at=utcnow())
        session.add(key)
        session.flush()
        return _public(key), secret


def create_key_for(factory: sessionmaker[Session], settings: Settings, visitor, name: object) -> tuple[KeyPublic, str]:
    """A key for this visitor (an `app.identity.Visitor`), capped by the serving_keys_per_user in force."""
    cap = serving_limits(factory, settings).keys_per_user
    return create_key(factory, visitor.learner_id, visitor.learner_ids, visitor.user.id if visitor.user else None,
                      name, cap)


def list_keys(factory: sessionmaker[Session], learner_ids: Collection[str]) -> list[KeyPublic]:
    """The owner's keys, active first then revoked, newest first within each."""
    if not owns_any(factory, "api_keys", learner_ids):  # most learners on a chapter page
        return []
    with reading(factory) as session:
        keys = session.scalars(select(ApiKey).where(ApiKey.learner_id.in_(learner_ids))
                               .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc()))
        return [_public(key) for key in keys]


def revoke_key(factory: sessionmaker[Session], key_id: int, learner_ids: Collection[str]) -> None:
    """Revoke one of the owner's keys (again is harmless); another owner's id is a 404 like an unknown one."""
    with transaction(factory) as session:
        key = session.get(ApiKey, key_id)
        if key is None or key.learner_id not in learner_ids:
            raise AppError(404, f"There is no API key {key_id} among yours.")
        if key.revoked_at is None:
            key.revoked_at = utcnow()


def authenticate_key(factory: sessionmaker[Session], presented: str) -> KeyOwner | None:
    """The owner of an active key, or None for an unknown, malformed or revoked one. Rows are found by the
    key's public prefix and the hashes compared in constant time; last_used_at is refreshed at most once a
    minute, so a busy key costs one read per request, not a write."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > MAX_KEY_CHARS:
        return None
    digest = _digest(presented)
    with reading(factory) as session:
        candidates = session.execute(
            select(ApiKey.id, ApiKey.hash, ApiKey.learner_id, ApiKey.last_used_at, ApiKey.revoked_at)
            .where(ApiKey.prefix == presented[:PREFIX_CHARS])).all()
        match = next((row for row in candidates if hmac.compare_digest(row.hash, digest)), None)
        if match is None or match.revoked_at is not None:
            return None
        account = session.scalar(select(Learner.account_id).where(Learner.id == match.learner_id))
        learner_ids = (match.learner_id,) if account is None else tuple(
            session.scalars(select(Learner.id).where(Learner.account_id == account).order_by(Learner.id)))
    now = utcnow()
    if match.last_used_at is None or _aware(match.last_used_at) < now - LAST_USED_EVERY:
        with transaction(factory) as session:
            session.execute(update(ApiKey).where(ApiKey.id == match.id).values(last_used_at=now))
    return KeyOwner(match.id, learner_ids, match.learner_id if account is None else f"user:{account}")


def _aware(moment: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive (in UTC); PostgreSQL keeps the zone.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
