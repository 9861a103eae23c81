"""Builds the FastAPI app: settings, content, database, templates, routers and error handling.

Nothing here imports torch or the lab engine; the app must start fast on a laptop.
"""

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from app.assets import Assets
from app.compression import CompressionMiddleware
from app.content import load_course
from app.csrf import CourseCSRFMiddleware, csrf_field, csrf_token
from app.dashboard_cache import DashboardCache
from app.db import create_db_engine, make_session_factory
from app.errors import install_error_handlers
from app.gc_tuning import freeze_startup_objects
from app.heap import start_trimming
from app.identity import signed_in_user
from app.lab_runs.scheduler import Scheduler, training_command
from app.lab_runs.shared_streams import make_stream_limiter
from app.lab_runs.views import install_lab_template_helpers
from app.learners import LearnerCookieMiddleware
from app.rate_limits import install_rate_limits
from app.routers import (
    account_pages,
    api_docs,
    admin_pages,
    assets,
    auth_api,
    capstone_api,
    capstone_pages,
    chapters_api,
    cohort_pages,
    cohorts_api,
    exercise_pages,
    exercises_api,
    health,
    keys_api,
    keys_pages,
    labs,
    openai_api,
    pages,
    quiz,
    serving_admin,
    serving_lab,
    simulations,
    sweeps,
    users_api,
)
from app.security import install_security
from app.serving.model_server import start_with_app as start_model_server, stop_with_app as stop_model_server
from app.simulation_runs import RUNS
from app.simulation_views import install_template_helpers
from app.settings import PROJECT_ROOT, Settings, get_settings
from app.visit_recorder import VisitRecorder
from labs.runners import make_runner


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Start the lab-run scheduler with the server (one per data dir) and stop it with the server; simulate
    every simulation's default state first (about 25 ms), so the first chapter page waits for none; then
    freeze what startup made out of the garbage collector's view (app.gc_tuning)."""
    RUNS.warm_defaults()
    trimmer = start_trimming()
    settings = app.state.settings
    runner = make_runner(settings.runner, settings.ray_address)
    scheduler = Scheduler(settings, app.state.sessions, runner, app.state.run_command or training_command)
    # This lifespan stops only the scheduler it started: a second lifespan of the same app (two test clients at
    # once) finds the data dir's scheduler taken and must not stop it (it once lost it: it ticked on forever).
    started = scheduler.start()
    if started:
        app.state.scheduler = scheduler  # /healthz says whether this worker runs it
    await start_model_server(app)
    freeze_startup_objects()
    yield
    await stop_model_server(app)
    if started:
        scheduler.stop()
        app.state.scheduler = None
    app.state.visits.stop()
    if trimmer:
        trimmer.stop()


def create_app(settings: Settings | None = None, run_command=None) -> FastAPI:
    """A ready app for `settings` (read from the environment when omitted).

    `run_command(run) -> argv` replaces the lab engine's training command; tests use a quick stand-in.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="Fine-Tuning in Practice",
        version="0.1.0",
        docs_url=None,  # served from node_modules by app.routers.api_docs, when the settings allow
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.run_command = run_command
    app.state.course = load_course(PROJECT_ROOT / "chapters")
    app.state.engine = create_db_engine(settings.resolved_database_url)
    app.state.sessions = make_session_factory(app.state.engine)
    app.state.visits = VisitRecorder(app.state.sessions)
    app.state.dashboards = DashboardCache()
    app.state.templates = Jinja2Templates(directory=PROJECT_ROOT / "templates")
    install_template_helpers(app.state.templates)
    install_lab_template_helpers(app.state.templates)
    app.state.templates.env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field, signed_in_user=signed_in_user)
    app.state.assets = Assets.load(settings.assets_dir)
    app.state.templates.env.globals["asset_url"] = app.state.assets.url

    # The last added runs first: sessions, then the learner cookie, then the CSRF check (whose
    # refusal page shows who is logged in, so it runs inside the session middleware).
    app.add_middleware(
        CourseCSRFMiddleware,
        secret=settings.secret_key,
        cookie_secure=settings.cookies_secure,
        cookie_name=f"{settings.cookie_prefix}csrftoken",
        max_form_bytes=settings.lab_max_upload_bytes + 64_000,  # the largest upload plus its envelope
        exempt_urls=[openai_api.CSRF_EXEMPT],
    )
    app.add_middleware(LearnerCookieMiddleware, secret_key=settings.secret_key, secure=settings.cookies_secure,
                       cookie_name=f"{settings.cookie_prefix}learner")
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=f"{settings.cookie_prefix}session",
        max_age=settings.session_max_age_days * 86_400,
        same_site="lax",
        https_only=settings.cookies_secure,
    )
    app.add_middleware(CompressionMiddleware)  # outermost: compresses what every other layer produced
    install_security(app, settings)
    install_error_handlers(app)
    openai_api.install_openai_errors(app)
    install_rate_limits(app, settings)
    app.state.event_streams = make_stream_limiter(settings.rate_limit_storage, settings.max_event_streams_per_owner)
    docs = (api_docs,) if settings.docs_enabled else ()
    # A class's clicks come first: chapter pages, slider fragments, quiz answers. Routes are tried in order and
    # each router passed costs a match (a slider move went through ten, a quarter of its CPU in the app), and no
    # other route matches these paths, so the order changes only how soon they are found.
    for module in (pages, simulations, chapters_api, quiz, health, assets, *docs, exercises_api, exercise_pages,
                   capstone_api, capstone_pages, labs, sweeps, auth_api, account_pages, cohorts_api,
                   cohort_pages, users_api, admin_pages, keys_api, keys_pages, openai_api,
                   serving_admin, serving_lab):
        app.include_router(module.router)
    return app
