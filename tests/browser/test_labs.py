"""The training lab in real Chromium with the real engine: launch from chapter 4, watch the loss arrive
live, see compliance before and after, open the evaluation view, download the adapter, come back."""

import time
import zipfile

import pytest

from tests.browser.conftest import watch_for_errors

pytestmark = pytest.mark.browser


def test_a_learner_trains_a_model_from_chapter_4_and_watches_it_live(browser, lab_base_url, artifacts):
    context = browser.new_context(base_url=lab_base_url, accept_downloads=True)
    page = context.new_page()
    errors = watch_for_errors(page)
    page.goto("/chapters/fine-tuning-pipeline")
    form = page.locator("#lab-training-widget form")
    assert form.locator("select[name=base]").input_value() == "micro"

    clicked = time.monotonic()
    form.get_by_role("button", name="Launch the run").click()
    page.wait_for_url("**/labs/runs/*")
    chart = page.locator("#run-loss-chart")
    page.wait_for_function("() => Number(document.getElementById('run-loss-chart').dataset.points || 0) >= 1", timeout=60_000)
    first_point_s = time.monotonic() - clicked
    page.wait_for_function("() => Number(document.getElementById('run-loss-chart').dataset.points || 0) >= 3", timeout=60_000)
    assert chart.locator(".main-svg").count() >= 1
    assert "Step" in page.locator("#run-progress-text").inner_text()

    page.wait_for_selector("#run-result:not([hidden])", timeout=180_000)
    done_s = time.monotonic() - clicked
    compliance = page.locator(".run-compliance").inner_text()
    assert "before" in compliance and "after" in compliance and "%" in compliance
    assert page.locator("#run-samples .sample").count() >= 1
    page.screenshot(path=str(artifacts / "lab-run-done.png"), full_page=True)
    (artifacts / "lab-run-timing.txt").write_text(f"launch to first loss point: {first_point_s:.1f} s\n"
                                                  f"launch to done on screen: {done_s:.1f} s\n")

    page.get_by_role("link", name="Open the evaluation").click()
    page.wait_for_url("**/evaluation")
    assert page.locator(".sample").count() >= 1 and "Compliance, greedy" in page.content()
    page.go_back()

    with page.expect_download() as download_info:
        page.locator("#download-adapter").click()
    path = download_info.value.path()
    names = zipfile.ZipFile(path).namelist()
    assert "adapter_model.safetensors" in names and "adapter_config.json" in names

    # Leaving and coming back rebuilds the whole view from the stored events, then closes the stream.
    run_url = page.url
    page.goto("/labs/runs")
    assert page.locator(".runs-table .status-succeeded").count() == 1
    page.goto(run_url)
    page.wait_for_selector("#run-result:not([hidden])")
    page.wait_for_function("() => Number(document.getElementById('run-loss-chart').dataset.points || 0) >= 60")
    page.wait_for_function("() => !document.getElementById('run-stream')")
    assert not errors, errors
    context.close()
