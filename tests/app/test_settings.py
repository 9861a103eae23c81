"""Settings are documented data: every field described and defaulted; unsafe secrets refused."""

import pytest
from pydantic import ValidationError

from app.settings import DEVELOPMENT_SECRET, Settings


def test_every_setting_has_a_description_and_a_default():
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 15, f"{name} needs a description"
        assert not field.is_required(), f"{name} needs a default that works on a laptop"


def test_settings_are_read_from_course_prefixed_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_MAX_CONCURRENT_RUNS", "3")
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.max_concurrent_runs == 3
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'course.db'}"


def test_the_development_secret_is_refused_outside_development_with_a_how_to():
    with pytest.raises(ValidationError) as caught:
        Settings(environment="production", secret_key=DEVELOPMENT_SECRET)
    assert "COURSE_SECRET_KEY" in str(caught.value) and "secrets.token_urlsafe" in str(caught.value)
    assert Settings(environment="production", secret_key="x" * 40).environment == "production"


def test_cookies_are_secure_only_behind_https():
    assert Settings(base_url="https://course.example").cookies_secure
    assert not Settings().cookies_secure


def test_a_rate_limit_setting_that_does_not_parse_is_refused_with_an_example():
    with pytest.raises(ValidationError) as caught:
        Settings(auth_rate_limit_per_ip="lots")
    assert "5/minute" in str(caught.value)
    assert Settings(auth_rate_limit_per_account="100/hour").auth_rate_limit_per_account == "100/hour"
