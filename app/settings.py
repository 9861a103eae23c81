"""Every setting of the course server, read from `COURSE_*` environment variables or `.env`.

Each field has a default that works on a laptop and a description (a test enforces both), so
`course serve --help-settings`-style documentation can be generated from this class alone.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate_limit
from pydantic import Field, field_validator, model_validator
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
        description="Key that signs the learner, session and CSRF cookies. Set a long random value outside development.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public address of the course; an https address makes cookies Secure.",
    )
    session_max_age_days: int = Field(
        14, ge=1, le=400, description="How long a login lasts before the browser must log in again, in days."
    )
    auth_rate_limit_per_ip: str = Field(
        "5/minute",
        description=(
            "Login and registration attempts allowed from one IP address (limits syntax, e.g. 5/minute). "
            "Raise it when a whole classroom shares one public address."
        ),
    )
    auth_rate_limit_per_account: str = Field(
        "5/minute", description="Login and registration attempts allowed for one email address (e.g. 5/minute)."
    )
    rate_limit_storage: str = Field(
        "memory://",
        description=(
            "Where rate-limit counters live. memory:// counts per process; with several workers or "
            "replicas use a shared store such as redis://host:6379."
        ),
    )
    node_modules_dir: Path = Field(
        PROJECT_ROOT / "node_modules",
        description="Where `npm ci` installed htmx and Plotly; `python -m app.assets build` copies them from here.",
    )
    assets_dir: Path = Field(
        PROJECT_ROOT / "build" / "assets",
        description=(
            "Where `python -m app.assets build` (run by make setup) writes the static files under content-hashed "
            "names with precompressed siblings and a manifest; the app serves /static/ from here."
        ),
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

    lab_bases: str = Field(
        "tiny,smollm2-135m-instruct",
        description="Comma-separated base models learners may pick: built names under DATA_DIR/models, local folders or hub ids.",
    )
    lab_max_upload_bytes: int = Field(
        5_000_000, ge=1_000, le=1_000_000_000, description="Largest dataset upload accepted, in bytes."
    )
    lab_max_examples: int = Field(2_000, ge=1, le=1_000_000, description="Most training examples in one uploaded dataset.")
    lab_max_steps: int = Field(400, ge=1, le=100_000, description="Most optimizer steps a learner may ask for in one run.")
    lab_max_seq_len: int = Field(512, ge=32, le=32_768, description="Longest training sequence, in tokens, a run may use.")
    lab_runs_per_hour: int = Field(20, ge=1, le=10_000, description="Runs one learner may launch per hour.")
    lab_max_active_runs_per_owner: int = Field(
        8, ge=1, le=100,
        description="Runs one learner may have queued or running at once; a sweep's runs each count (the default sweep is 6).",
    )
    lab_run_timeout_s: int = Field(
        900, ge=1, le=7 * 24 * 3600, description="Wall-clock limit of one run in seconds; it is stopped and marked failed after it."
    )
    lab_min_free_disk_mb: int = Field(
        500, ge=0, le=10_000_000, description="A run starts only when the data dir's disk has this much free space."
    )
    lab_require_account: bool = Field(
        False, description="When true, only signed-in accounts may launch lab runs (visitors may still check data)."
    )
    lab_max_queued_anonymous_runs: int = Field(
        20, ge=0, le=10_000, description="Runs of visitors without an account that may be queued or running at once, server-wide."
    )
    lab_anonymous_launches_per_ip: str = Field(
        "20/hour",
        description="Lab launches (a run or a whole sweep) allowed from one address by visitors without an account "
                    "(e.g. 20/hour; raise it for a classroom behind one address).",
    )
    lab_checks_per_ip: str = Field(
        "20/minute", description="Dataset checks allowed from one address by visitors without an account (e.g. 20/minute)."
    )
    lab_max_concurrent_checks: int = Field(
        2, ge=1, le=64, description="Dataset checks (each a short subprocess) that may run at once; the rest wait."
    )
    max_json_body_bytes: int = Field(
        1_000_000, ge=1_000, le=100_000_000, description="Largest JSON request body accepted, in bytes."
    )
    max_event_streams_per_owner: int = Field(
        8, ge=1, le=1_000,
        description="Event streams (SSE) one browser or account may hold open at once: lab run pages and /v1 "
                    "streamed completions together.",
    )
    trusted_proxies: str = Field(
        "",
        description=(
            "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed. Empty: no proxy is trusted and the peer address counts."
        ),
    )
    trusted_hosts: str = Field(
        "",
        description=(
            "Comma-separated Host header values the server answers (e.g. course.example.org,*.example.org). "
            "Empty: the base URL's host, plus localhost and 127.0.0.1 in development."
        ),
    )
    api_docs: bool | None = Field(
        None,
        description="Serve /api/docs and /openapi.json. Empty: on in development, off in production.",
    )
    lab_gpus_per_run: float = Field(
        0.0, ge=0, le=8, description="GPUs a run asks the Ray cluster for (fractions share a GPU); 0 runs on CPU."
    )

    # serve-api: API keys and the OpenAI-compatible /v1 (an admin may override these four on the admin page)
    serving_max_tokens: int = Field(
        256, ge=1, le=32_768, description="Largest max_tokens one /v1 chat completion may ask for."
    )
    serving_keys_per_user: int = Field(
        5, ge=0, le=1_000, description="API keys one account (or anonymous learner) may hold at once, revoked ones aside."
    )
    serving_tokens_per_minute: int = Field(
        20_000, ge=1, le=100_000_000,
        description="Tokens one API key may use per minute (prompt plus the max_tokens asked for, counted up front).",
    )
    serving_concurrent_requests: int = Field(
        4, ge=1, le=1_000, description="/v1 requests one API key may have in flight at once; past it a 429."
    )

    # serve-lab: the model-server process that serves trained adapters (app/serving/model_server.py).
    model_server_start: Literal["on_demand", "with_server"] = Field(
        "on_demand",
        description="When the model server starts: `on_demand` at the first request that needs a model, "
                    "`with_server` together with the course server (the first answer then comes sooner).",
    )
    model_server_max_adapters: int = Field(
        8, ge=1, le=1_000, description="Adapters the model server keeps loaded per base; the least recently used goes first."
    )
    serving_request_timeout_s: float = Field(
        120, gt=0, le=3_600, description="Longest wait, in seconds, for the model server to answer one generation request."
    )

    # serve-ray: serving through a Ray Serve deployment (labs/serving/ray_deployment.py) instead of a local process.
    serving: Literal["local", "ray"] = Field(
        "local",
        description="Where trained adapters are served: `local`, a model-server process this server starts, or `ray`, "
                    "a Ray Serve deployment at SERVE_ADDRESS (started with `course-lab serve-ray`).",
    )
    serve_address: str = Field(
        "http://127.0.0.1:8100", description="HTTP address of the Ray Serve deployment, used when SERVING is `ray`."
    )
    serve_secret: str = Field(
        "",
        description="Bearer secret the Ray Serve deployment was started with (the same COURSE_SERVE_SECRET given to "
                    "`course-lab serve-ray`); required when SERVING is `ray`.",
    )

    @model_validator(mode="after")
    def _ray_serving_needs_its_secret(self) -> "Settings":
        if self.serving == "ray" and not self.serve_secret:
            raise ValueError("COURSE_SERVING=ray needs COURSE_SERVE_SECRET: the secret the Ray Serve deployment was "
                             "started with (course-lab serve-ray reads the same variable)")
        return self

    @field_validator("auth_rate_limit_per_ip", "auth_rate_limit_per_account", "lab_anonymous_launches_per_ip",
                     "lab_checks_per_ip")
    @classmethod
    def _rate_limit_is_parseable(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit; write it like 5/minute or 100/hour") from None
        return value

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

    @property
    def cookie_prefix(self) -> str:
        """`__Host-` on https: a browser then takes the cookie only from this host, Secure and for Path=/, so a
        sibling subdomain cannot plant a session, CSRF or learner cookie of its own (see SECURITY.md)."""
        return "__Host-" if self.cookies_secure else ""

    @property
    def docs_enabled(self) -> bool:
        return self.environment == "development" if self.api_docs is None else self.api_docs

    @property
    def allowed_hosts(self) -> list[str]:
        """Host header values to answer: the configured list, else the base URL's host (and, in
        development, the loopback names and the test client's `testserver`)."""
        if self.trusted_hosts.strip():
            return [h.strip() for h in self.trusted_hosts.split(",") if h.strip()]
        hosts = [urlsplit(self.base_url).hostname or "127.0.0.1"]
        if self.environment == "development":
            hosts += ["127.0.0.1", "localhost", "[::1]", "testserver"]
        return hosts

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
