"""Every setting of the course server, read from `COURSE_*` environment variables or `.env`.

Each field has a default that works on a laptop and a description (a test enforces both), so
`course serve --help-settings`-style documentation can be generated from this class alone.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration of one course server process."""

    model_config = SettingsConfigDict(env_prefix="COURSE_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development",
        description="`development` allows the built-in secret key; `production` refuses it.",
    )
    data_dir: Path = Field(
        Path("data"),
        description="Folder for the SQLite database, base models and lab runs (created if missing).",
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL of the database. Empty means SQLite at DATA_DIR/course.db; "
            "use postgresql+psycopg://user:pass@host/db for PostgreSQL."
        ),
    )
    secret_key: str = Field(
        DEVELOPMENT_SECRET,
        description="Key that signs the learner cookie. Set a long random value outside development.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public address of the course; an https address makes cookies Secure.",
    )
    node_modules_dir: Path = Field(
        PROJECT_ROOT / "node_modules",
        description="Where `npm ci` installed htmx and Plotly; the app serves them under /static/vendor/.",
    )
    runner: Literal["local", "ray"] = Field(
        "local",
        description="Where lab runs execute: `local` subprocesses or a Ray cluster through the Jobs API.",
    )
    ray_address: str = Field(
        "http://127.0.0.1:8265",
        description="Ray Jobs API address, used when RUNNER is `ray`.",
    )
    max_concurrent_runs: int = Field(
        1, ge=1, le=64, description="Lab runs that may train at once on this machine; the rest queue."
    )

    @model_validator(mode="after")
    def _refuse_development_secret_in_production(self) -> "Settings":
        if self.environment != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(
                "COURSE_SECRET_KEY is still the development value. Set it to a long random string, "
                "for example: export COURSE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'course.db').resolve()}"

    @property
    def cookies_secure(self) -> bool:
        return self.base_url.startswith("https://")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
