"""The catalog of servable models: the allowed, built bases plus the owner's succeeded runs that saved an adapter,
named `ft:<base>:<recipe>:<first 8 of the run id>` (and by the name the learner gave the run); nothing of anyone
else's, whether listed or asked for by name."""

import uuid

from app.db import transaction
from app.lab_runs.models import Run
from app.models import Learner
from app.serving.catalog import resolve_model, servable_models
from tests.app.serving.conftest import BASE, add_run_row


def _owner(app) -> str:
    owner = uuid.uuid4().hex
    with transaction(app.state.sessions) as session:
        session.add(Learner(id=owner))
    return owner


def _ids(app, owners) -> list[str]:
    return [m.id for m in servable_models(app.state.sessions, owners, app.state.settings)]


def test_a_learner_without_runs_sees_the_allowed_built_bases_only(serving_app):
    models = servable_models(serving_app.state.sessions, [_owner(serving_app)], serving_app.state.settings)
    assert [(m.id, m.owned_by, m.run_id) for m in models] == [(BASE, "course", None)]
    assert models[0].created > 0  # when the base was built


def test_a_succeeded_run_with_an_adapter_is_served_under_its_ft_name(serving_app):
    owner = _owner(serving_app)
    run_id = add_run_row(serving_app, owner)
    model = resolve_model(serving_app.state.sessions, [owner], f"ft:{BASE}:legal-format:{run_id[:8]}",
                          serving_app.state.settings)
    assert model is not None and model.run_id == run_id and model.base == BASE and model.recipe == "legal-format"
    assert model.adapter_path == str(serving_app.state.settings.data_dir / "runs" / run_id / "adapter")
    assert model.owned_by == "learner" and model.created > 0


def test_runs_that_did_not_succeed_or_saved_no_adapter_or_use_a_base_no_longer_allowed_are_not_served(serving_app):
    owner = _owner(serving_app)
    for status in ("queued", "running", "failed", "cancelled", "interrupted"):
        add_run_row(serving_app, owner, status=status)
    add_run_row(serving_app, owner, with_adapter=False)
    add_run_row(serving_app, owner, base="tiny")  # not in this server's lab_bases
    served = add_run_row(serving_app, owner)
    assert _ids(serving_app, [owner]) == [BASE, f"ft:{BASE}:legal-format:{served[:8]}"]


def test_another_owners_adapter_is_neither_listed_nor_resolved(serving_app):
    alice, bob = _owner(serving_app), _owner(serving_app)
    alices = add_run_row(serving_app, alice)
    name = f"ft:{BASE}:legal-format:{alices[:8]}"
    assert name in _ids(serving_app, [alice]) and name not in _ids(serving_app, [bob])
    assert resolve_model(serving_app.state.sessions, [bob], name, serving_app.state.settings) is None
    # An account with several learners sees the runs of all of them.
    assert name in _ids(serving_app, [bob, alice])


def test_the_name_a_learner_gave_a_run_resolves_to_it_for_them_only(serving_app):
    alice, bob = _owner(serving_app), _owner(serving_app)
    run_id = add_run_row(serving_app, alice)
    with transaction(serving_app.state.sessions) as session:
        session.get(Run, run_id).served_name = "my-legal-bot"
    model = resolve_model(serving_app.state.sessions, [alice], "my-legal-bot", serving_app.state.settings)
    assert model is not None and model.run_id == run_id and model.aliases == ("my-legal-bot",)
    assert resolve_model(serving_app.state.sessions, [bob], "my-legal-bot", serving_app.state.settings) is None


def test_unknown_names_resolve_to_nothing(serving_app):
    owner = _owner(serving_app)
    for name in ("", "gpt-4o", f"ft:{BASE}:legal-format:00000000", "tiny", BASE + " "):
        assert resolve_model(serving_app.state.sessions, [owner], name, serving_app.state.settings) is None
