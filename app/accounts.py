"""Accounts: creating them, checking a login, changing password or role, and claiming browsers.

Sessions and cookies are not handled here (see app.identity); this module only reads and writes the
database, so the CLI and the HTTP handlers share it.
"""

import re
import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

from app.db import bare_transaction, db_time, read_rows, reading, transaction
from app.errors import AppError
from app.models import ROLES, EndedSession, User, utcnow
from app.passwords import check_new_password, hash_password, verify_password

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 254
MAX_NAME = 80


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > MAX_EMAIL or not EMAIL.match(email):
        raise AppError(422, "email: enter an address like name@example.org.")
    return email


def single_line(text: str) -> str:
    """Typed text as one tidy line: control characters (which could break a CSV row or the page
    layout) dropped, runs of whitespace made one space."""
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())


def required_line(text: str, field: str, when_empty: str, max_chars: int) -> str:
    """`text` as one tidy line (see single_line), or 422 naming `field`: `when_empty` says what to enter."""
    line = single_line(text)
    if not line:
        raise AppError(422, f"{field}: {when_empty}")
    if len(line) > max_chars:
        raise AppError(422, f"{field}: use at most {max_chars} characters.")
    return line


def clean_display_name(name: str) -> str:
    return required_line(name, "display_name", "enter the name other people in your cohort will see.", MAX_NAME)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AppError(422, f"role: {role!r} is not a role; roles: {', '.join(ROLES)}.")
    return role


def create_user(
    factory: sessionmaker[Session], email: str, password: str, display_name: str, role: str = "learner"
) -> User:
    """A new account; 422 naming the field when the email, name, password or role is not acceptable."""
    email = normalize_email(email)
    display_name = clean_display_name(display_name)
    check_role(role)
    check_new_password(password, email=email, display_name=display_name)
    user = User(email=email, display_name=display_name, password_hash=hash_password(password), role=role)
    try:
        with transaction(factory) as session:
            session.add(user)
    except IntegrityError:
        raise AppError(409, "email: an account with this email already exists; log in instead.") from None
    return user


def authenticate(factory: sessionmaker[Session], email: str, password: str) -> User:
    """The account for this email and password, or 401 without saying which one was wrong."""
    with reading(factory) as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if not verify_password(password, user.password_hash if user else None):
        raise AppError(401, "The email or the password is wrong.")
    return user


def get_user(factory: sessionmaker[Session], user_id: int) -> User | None:
    with reading(factory) as session:
        return session.get(User, user_id)


def find_user(factory: sessionmaker[Session], email: str) -> User:
    with reading(factory) as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise AppError(404, f"There is no account with the email {email!r}.")
    return user


def list_users(factory: sessionmaker[Session]) -> list[User]:
    with reading(factory) as session:
        return list(session.scalars(select(User).order_by(User.id)))


def end_all_sessions(factory: sessionmaker[Session], user_id: int) -> int:
    """Bump the session version, so every session cookie issued so far stops working; the new version."""
    with transaction(factory) as session:
        user = session.get(User, user_id)
        user.session_version += 1
        return user.session_version


def end_session(factory: sessionmaker[Session], nonce: str, forget_before: datetime) -> None:
    """Record a logged-out session's nonce (its cookie stops working); nonces ended before
    `forget_before` are dropped, their cookies having expired by then."""
    with transaction(factory) as session:
        session.execute(delete(EndedSession).where(EndedSession.ended_at < forget_before))
        if session.get(EndedSession, nonce) is None:
            session.add(EndedSession(nonce=nonce))


_SESSION_USER = ("SELECT users.id, email, display_name, password_hash, role, session_version, users.created_at,"
                 " EXISTS (SELECT 1 FROM ended_sessions WHERE nonce = ?), learners.id FROM users"
                 " LEFT JOIN learners ON learners.account_id = users.id WHERE users.id = ? ORDER BY learners.id")


def session_user(factory: sessionmaker[Session], user_id: int, nonce: str) -> tuple[User | None, bool, list[str]]:
    """The account a session cookie names, whether that session was ended (logged out), and the learners
    (browsers) the account owns: asked on every signed-in request, so one bare read (one round trip on
    PostgreSQL) instead of an ORM session (which cost ~2 ms of CPU a request) and a second read for the
    learners. The user comes back detached, as `get_user`'s does."""
    rows = read_rows(factory, _SESSION_USER, (nonce, user_id))
    if not rows:
        return None, False, []
    *columns, ended, _learner = rows[0]
    created_at = columns[6]
    if not isinstance(created_at, datetime):  # SQLite hands back the text SQLAlchemy stored
        columns[6] = datetime.fromisoformat(created_at)
    user = User(**dict(zip(("id", "email", "display_name", "password_hash", "role", "session_version",
                            "created_at"), columns)))
    make_transient_to_detached(user)
    return user, bool(ended), [row[-1] for row in rows if row[-1] is not None]


def session_ended(factory: sessionmaker[Session], nonce: str) -> bool:
    """Asked on every signed-in request: a bare read."""
    return bool(read_rows(factory, "SELECT 1 FROM ended_sessions WHERE nonce = ?", (nonce,)))


def learner_account(factory: sessionmaker[Session], learner_id: str) -> int | None:
    """The account that has claimed this learner, if any (asked on every anonymous page view: a bare read)."""
    rows = read_rows(factory, "SELECT account_id FROM learners WHERE id = ?", (learner_id,))
    return rows[0][0] if rows else None


def change_password(factory: sessionmaker[Session], user_id: int, current: str, new: str) -> int:
    """Check the current password, store the new one and end other sessions; the new session version."""
    with transaction(factory) as session:
        user = session.get(User, user_id)
        if not verify_password(current, user.password_hash):
            raise AppError(422, "current_password: this is not your current password.")
        check_new_password(new, email=user.email, display_name=user.display_name, field="new_password")
        user.password_hash = hash_password(new)
        user.session_version += 1
        return user.session_version


def set_role(factory: sessionmaker[Session], user_id: int, role: str) -> User:
    """Change a role; the last admin cannot be demoted, so the site always has one."""
    check_role(role)
    with transaction(factory) as session:
        user = session.get(User, user_id)
        if user is None:
            raise AppError(404, f"There is no user {user_id}.")
        if user.role == "admin" and role != "admin":
            admins = session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))
            if admins <= 1:
                raise AppError(409, "role: this is the only admin; make someone else admin first.")
        user.role = role
    return user


_NEW_LEARNER = ("INSERT INTO learners (id, created_at, last_seen_at, account_id, content_version)"
                " VALUES (?, ?, ?, ?, 0)")


def claim_learner(factory: sessionmaker[Session], user_id: int, learner_id: str) -> str:
    """Give this browser's learner to the account; the learner id the browser should write to from now on.

    An anonymous learner becomes the account's, with all its progress (nothing is copied, so nothing is
    lost or doubled). A learner that already belongs to another account (a shared computer) stays
    theirs: the browser switches to this account's most recent learner, or a new one.
    """
    now = db_time(factory, utcnow())
    with bare_transaction(factory) as run:  # once per browser and account, but a whole class at 9:00
        run(_NEW_LEARNER + " ON CONFLICT (id) DO NOTHING", (learner_id, now, now, user_id))
        run("UPDATE learners SET account_id = ? WHERE id = ? AND account_id IS NULL", (user_id, learner_id))
        if run("SELECT account_id FROM learners WHERE id = ?", (learner_id,))[0][0] == user_id:
            return learner_id
        latest = run("SELECT id FROM learners WHERE account_id = ? ORDER BY last_seen_at DESC LIMIT 1", (user_id,))
        if latest:
            return latest[0][0]
        fresh = str(uuid.uuid4())
        run(_NEW_LEARNER, (fresh, now, now, user_id))
        return fresh


def owned_learners(factory: sessionmaker[Session], user_id: int) -> list[str]:
    """The learners the account owns (a signed-in request has them from `session_user` already): a bare read."""
    return [learner for (learner,) in read_rows(factory, "SELECT id FROM learners WHERE account_id = ?", (user_id,))]
