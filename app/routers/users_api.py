"""Users over JSON: the admin's list and role changes, and one user's progress for whoever may see it
(the user, their instructors, admins; anyone else gets the same 404 as for a user that does not exist).
"""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app.accounts import list_users, set_role
from app.deps import CourseDep, ObjectId, ProgressOwner, SessionsDep, UserAdmin
from app.progress import account_progress, progress_report
from app.routers.auth_api import UserPublic

router = APIRouter(prefix="/api/users", tags=["users"])


class RoleIn(BaseModel):
    role: Literal["learner", "instructor", "admin"]


@router.get("")
def read_users(admin: UserAdmin, sessions: SessionsDep) -> list[UserPublic]:
    """Every account (admin only)."""
    return [UserPublic.model_validate(user) for user in list_users(sessions)]


@router.put("/{user_id}/role")
def update_role(user_id: ObjectId, body: RoleIn, admin: UserAdmin, sessions: SessionsDep) -> UserPublic:
    """Make a user a learner, an instructor or an admin (admin only; the last admin stays one)."""
    return UserPublic.model_validate(set_role(sessions, user_id, body.role))


@router.get("/{user_id}/progress")
def read_user_progress(owner: ProgressOwner, course: CourseDep, sessions: SessionsDep) -> dict:
    """One user's progress per chapter, across every browser of their account."""
    return progress_report(course, account_progress(sessions, owner.id))
