"""Builds the FastAPI app: settings, content, database, templates, routers and error handling.

Nothing here imports torch or the lab engine; the app must start fast on a laptop.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.content import load_course
from app.db import create_db_engine, make_session_factory
from app.errors import install_error_handlers
from app.learners import LearnerCookieMiddleware
from app.routers import assets, chapters_api, health, pages, quiz, simulations
from app.simulation_views import install_template_helpers
from app.settings import PROJECT_ROOT, Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """A ready app for `settings` (read from the environment when omitted)."""
    settings = settings or get_settings()
    app = FastAPI(title="Fine-Tuning in Practice", version="0.1.0", docs_url="/api/docs", redoc_url=None)
    app.state.settings = settings
    app.state.course = load_course(PROJECT_ROOT / "chapters")
    app.state.engine = create_db_engine(settings.resolved_database_url)
    app.state.sessions = make_session_factory(app.state.engine)
    app.state.templates = Jinja2Templates(directory=PROJECT_ROOT / "templates")
    install_template_helpers(app.state.templates)

    app.add_middleware(LearnerCookieMiddleware, secret_key=settings.secret_key, secure=settings.cookies_secure)
    install_error_handlers(app)
    for module in (health, assets, chapters_api, quiz, simulations, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    return app
