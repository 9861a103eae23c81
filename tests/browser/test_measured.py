"""Simulations meet real runs, in real Chromium with the real engine on the micro base: a sweep launched from
chapter 0 draws its measured points over the compliance model, and one of its runs is drawn with the fitted
model on the loss-curve chart."""

import json

import pytest

pytestmark = pytest.mark.browser

TRACES = "Array.from(document.getElementById('{chart}').data || []).map(t => t.name || '')"


def test_a_sweep_from_chapter_0_appears_on_the_compliance_and_loss_charts(browser, lab_base_url, artifacts):
    context = browser.new_context(base_url=lab_base_url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/chapters/prompting-has-limits")
    form = page.locator("#lab-sweep-widget form")
    form.locator("input[name=examples]").fill("0, 8")
    form.locator("input[name=steps]").fill("20")
    form.get_by_role("button", name="Launch the sweep").click()
    page.wait_for_url("**/labs/sweeps/*")
    sweep_id = page.url.rsplit("/", 1)[-1]
    # the progress block refreshes itself (htmx) until both runs are done
    page.wait_for_selector(".sweep-progress >> text=2 of 2 runs finished", timeout=600_000)
    sweep = json.loads(page.request.get(f"/api/labs/sweeps/{sweep_id}").text())
    assert sweep["status"] == "succeeded", sweep

    page.get_by_role("link", name="Draw it over the compliance model").click()
    page.wait_for_function("() => document.getElementById('sim-compliance-chart').data")
    names = page.evaluate(TRACES.format(chart="sim-compliance-chart"))
    assert "Your runs (measured, 90% interval)" in names
    measured = page.evaluate("document.getElementById('sim-compliance-chart').data"
                             ".find(t => (t.name || '').startsWith('Your runs'))")
    assert measured["x"] == [0, 8] and len(measured["error_y"]["array"]) == 2
    # drawn, not only in the data: the measured trace has its two markers in the SVG
    assert page.locator("#sim-compliance-chart .scatterlayer .trace").last.locator(".point").count() == 2
    assert "Your runs:" in page.locator("#sim-compliance .sim-headline").inner_text()
    # the widget itself (scrolled into view), not the top of the page, where the chart is not
    page.locator("#sim-compliance").screenshot(path=str(artifacts / "compliance-with-your-runs.png"))

    trained = next(r for r in sweep["runs"] if r["examples"] == 8)
    page.goto(f"/simulations/loss-curve?run={trained['id']}#sim-loss-curve")
    page.wait_for_function("() => document.getElementById('sim-loss-curve-chart').data")
    names = page.evaluate(TRACES.format(chart="sim-loss-curve-chart"))
    assert any(name.startswith("Model fitted to your run: start") for name in names), names
    assert "Your run: training loss" in names and any(n.startswith("Early stop on your run") for n in names)
    assert "Your run: the model's curve" in page.locator("#sim-loss-curve .sim-headline").inner_text()
    # moving a slider keeps the run drawn (the form carries it)
    page.locator("#sim-loss-curve-epochs").fill("5")
    page.locator("#sim-loss-curve-epochs").dispatch_event("input")
    page.wait_for_function("() => document.getElementById('sim-loss-curve-chart').data.length > 3 && "
                           "location.search.includes('epochs=5') && location.search.includes('run=')")
    # every trace drawn in the SVG before the picture is taken, not only in the chart's data
    page.wait_for_function("() => { const chart = document.getElementById('sim-loss-curve-chart'); "
                           "return chart.querySelectorAll('.scatterlayer .trace').length === chart.data.length; }")
    page.locator("#sim-loss-curve").screenshot(path=str(artifacts / "loss-curve-with-your-run.png"))
    assert not errors, errors
    context.close()
