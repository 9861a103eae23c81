"""The API keys page in real Chromium, with htmx: a key created (shown once, copied with the button), used
against /v1, revoked (then refused), all without a page reload; and no serious accessibility violation in either
theme."""

import httpx
import pytest

from tests.browser.test_course_walkthrough import _serious_axe_violations

pytestmark = pytest.mark.browser


def test_a_key_is_created_copied_used_and_revoked_on_the_page(page, base_url):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page.goto("/account/keys")
    page.evaluate("() => { window.notReloaded = true; }")
    page.fill("#f-name", "browser key")
    page.click("text=Create key")
    secret = page.locator("#new-key-secret").inner_text(timeout=10_000).strip()
    assert secret.startswith("ftp-") and page.evaluate("() => window.notReloaded") is True  # htmx swapped the panel
    page.click("text=Copy the key")
    page.wait_for_function("() => document.querySelector('[data-copy-target]').textContent === 'Copied'")
    assert page.evaluate("async () => await navigator.clipboard.readText()") == secret

    models = httpx.get(f"{base_url}/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert models.status_code == 200 and models.json()["object"] == "list"

    page.click("button[aria-label='Revoke the key browser key']")
    page.wait_for_selector("text=Key revoked")
    assert page.locator("#new-key-secret").count() == 0  # the secret is never shown again
    assert page.evaluate("() => window.notReloaded") is True
    refused = httpx.get(f"{base_url}/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_keys_page_has_no_serious_accessibility_violation(browser, base_url, theme):
    context = browser.new_context(base_url=base_url, color_scheme=theme)
    page = context.new_page()
    page.goto("/account/keys")
    page.fill("#f-name", "axe key")
    page.click("text=Create key")
    page.wait_for_selector("#new-key-secret")
    violations = _serious_axe_violations(page)
    context.close()
    assert not violations, violations
