"""The serving limits in force: the server's Settings, overridden by whatever an admin set on the admin page
(the `serving_settings` table). Values are checked against the same bounds as the Settings fields."""

from dataclasses import dataclass

from annotated_types import Ge, Le
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db import insert_for, reading, transaction
from app.errors import AppError
from app.models import utcnow
from app.serving.models import ServingSetting
from app.settings import Settings

ADJUSTABLE = ("serving_keys_per_user", "serving_tokens_per_minute", "serving_concurrent_requests",
              "serving_max_tokens")


@dataclass(frozen=True)
class ServingLimits:
    keys_per_user: int
    tokens_per_minute: int
    concurrent_requests: int
    max_tokens: int


def bounds(name: str) -> tuple[int, int]:
    """(lowest, highest) value the Settings field `name` accepts."""
    metadata = Settings.model_fields[name].metadata
    low = next(m.ge for m in metadata if isinstance(m, Ge))
    high = next(m.le for m in metadata if isinstance(m, Le))
    return low, high


def overrides(factory: sessionmaker[Session]) -> dict[str, int]:
    with reading(factory) as session:
        return {row.name: row.value for row in session.scalars(select(ServingSetting))
                if row.name in ADJUSTABLE}


def serving_limits(factory: sessionmaker[Session], settings: Settings) -> ServingLimits:
    values = {name: getattr(settings, name) for name in ADJUSTABLE} | overrides(factory)
    return ServingLimits(**{name.removeprefix("serving_"): value for name, value in values.items()})


def set_serving_limit(factory: sessionmaker[Session], name: str, value: object) -> int:
    """Store an admin's value for `name`; 422 naming the setting and its range when out of bounds."""
    if name not in ADJUSTABLE:
        raise AppError(422, f"name: {name!r} is not an adjustable serving setting; these are: {', '.join(ADJUSTABLE)}.")
    low, high = bounds(name)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise AppError(422, f"{name}: enter a whole number from {low} to {high}.") from None
    if not low <= number <= high:
        raise AppError(422, f"{name}: {number} is outside the allowed range {low} to {high}.")
    with transaction(factory) as session:
        session.execute(
            insert_for(session, ServingSetting)
            .values(name=name, value=number, updated_at=utcnow())
            .on_conflict_do_update(index_elements=["name"], set_={"value": number, "updated_at": utcnow()})
        )
    return number
