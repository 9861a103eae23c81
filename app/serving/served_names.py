"""A learner's own name for a served run (`runs.served_name`), usable as the model name in /v1. A name is unique
among all the runs of its owner (every learner of an account), and cannot pass for a base or an `ft:` id."""

import re
from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.errors import AppError
from app.lab_runs.models import Run
from app.lab_runs.service import bases
from app.settings import Settings

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # no colon, so never mistaken for "ft:<base>:..."


def clean_served_name(value: object, settings: Settings) -> str | None:
    """The name to store; None (an empty value) clears it. 422 naming `served_name` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not NAME.match(value.strip()):
        raise AppError(422, "served_name: use 1 to 64 letters, digits, dots, dashes or underscores, starting with "
                            "a letter or digit (like legal-v2).")
    name = value.strip()
    if name in {choice.name for choice in bases(settings)}:
        raise AppError(422, f"served_name: {name!r} is the name of a base model; choose another.")
    return name


def set_served_name(factory: sessionmaker[Session], run_id: str, learner_ids: Collection[str], value: object,
                    settings: Settings) -> str | None:
    """Name (or, with an empty value, unname) one of the owner's runs; 404 for anyone else's, 409 when another
    of the owner's runs has the name already."""
    name = clean_served_name(value, settings)
    try:
        with transaction(factory) as session:
            run = session.get(Run, run_id)
            if run is None or run.learner_id not in learner_ids:
                raise AppError(404, f"There is no run {run_id!r} among yours.")
            taken = session.scalar(select(Run.id).where(Run.learner_id.in_(learner_ids), Run.served_name == name,
                                                        Run.id != run_id).limit(1)) if name else None
            if taken is not None:
                raise AppError(409, f"served_name: your run {taken} is already called {name!r}; pick another name.")
            session.execute(update(Run).where(Run.id == run_id).values(served_name=name))
    except IntegrityError:  # the same name given to two runs at the same moment
        raise AppError(409, f"served_name: another of your runs is already called {name!r}.") from None
    return name
