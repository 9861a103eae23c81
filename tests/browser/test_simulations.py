"""Each simulation in real Chromium: move one control with the keyboard, see the chart redraw and the
announced sentence change, without a page reload; and the slider form still works without JavaScript.
"""

import pytest

import simulations

pytestmark = pytest.mark.browser

# The control each test moves, and the key that moves it (End/Home: a range to its maximum/minimum).
CONTROLS = {
    "compliance": ("examples", "End"),
    "cost-crossover": ("system_prompt_tokens", "End"),
    "data-balance": ("class_a", "End"),
    "lora-rank": ("r", "End"),
    "lora-params": ("r", "End"),
    "vram": ("batch_size", "End"),
    "loss-curve": ("epochs", "End"),
    "multi-lora": ("tenants", "End"),
    "break-even": ("training_cost_usd", "End"),
    "advisor": ("labelled_examples", "Home"),
}


def test_every_simulation_has_a_keyboard_control_chosen_here():
    assert set(CONTROLS) == set(simulations.REGISTRY)


@pytest.mark.parametrize("name", list(CONTROLS))
def test_moving_a_control_with_the_keyboard_redraws_the_chart_and_announces_the_new_number(page, name):
    field, key = CONTROLS[name]
    module = simulations.REGISTRY[name]
    page.goto(f"/simulations/{name}")
    chart = page.locator(f"#sim-{name}-chart")
    page.wait_for_function(f"() => document.getElementById('sim-{name}-chart').dataset.draws")
    headline = page.locator(f"#sim-{name}-output .sim-headline")
    before = headline.inner_text()
    assert before == module.headline(module.simulate(module.Params()))
    page.evaluate("window.__sameDocument = true")
    draws = int(chart.get_attribute("data-draws"))

    page.focus(f"#sim-{name}-{field}")
    page.keyboard.press(key)
    page.wait_for_function(f"() => document.querySelector('#sim-{name}-output .sim-headline').innerText !== {before!r}")
    page.wait_for_function(f"() => Number(document.getElementById('sim-{name}-chart').dataset.draws) > {draws}")
    assert headline.get_attribute("aria-live") == "polite"
    assert page.evaluate("window.__sameDocument") is True
    assert f"/simulations/{name}?" in page.url and f"{field}=" in page.url, "the URL carries the new state"


def test_the_routing_diagram_is_drawn_by_the_bundle_built_at_set_up(page):
    """Chapter 6's Sankey comes from plotly.js's own modules bundled by app.assets, not the full Plotly."""
    page.goto("/chapters/deployment")
    page.wait_for_function("() => document.getElementById('sim-multi-lora-chart').dataset.draws")
    scripts = page.evaluate("() => [...document.scripts].map(s => s.src).filter(s => s.includes('plotly'))")
    assert len(scripts) == 1 and "/static/vendor/plotly-sankey.min." in scripts[0]
    tenants = simulations.REGISTRY["multi-lora"].Params().tenants
    assert page.locator("#sim-multi-lora-chart .sankey-node").count() == 2 * tenants + 1


def test_the_slider_form_works_without_javascript(browser, base_url):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/chapters/cost-analysis")
    page.locator("#sim-break-even-requests_per_day").select_option("1000")
    page.get_by_role("button", name="Update the chart").first.click()
    page.wait_for_url("**/simulations/break-even?**")
    assert "requests_per_day=1000" in page.url
    assert "days" in page.locator("#sim-break-even-output .sim-headline").inner_text()
    context.close()
