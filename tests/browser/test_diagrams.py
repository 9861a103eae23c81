"""Chapter diagrams in a real browser: inlined SVG with its text alternative, repainted by the theme."""


def _fills(page, selector):
    return page.eval_on_selector(selector, "el => getComputedStyle(el).fill")


def test_a_diagram_is_inlined_with_a_text_alternative_and_follows_the_dark_theme(page):
    page.goto("/chapters/lora-and-qlora")
    figure = page.locator("#figure-memory-bars")
    figure.scroll_into_view_if_needed()
    assert figure.locator("svg[role=img] title").text_content().startswith("GPU memory before activations")
    assert "128.5" in figure.locator("svg desc").text_content()
    assert "master copy" in figure.locator("figcaption").inner_text()

    page.evaluate("document.documentElement.dataset.theme = 'light'")
    light_bar, light_ink = _fills(page, "#figure-memory-bars .dg-c1"), _fills(page, "#figure-memory-bars svg")
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    dark_bar, dark_ink = _fills(page, "#figure-memory-bars .dg-c1"), _fills(page, "#figure-memory-bars svg")
    assert light_bar != dark_bar, "the bars take the theme's accent colour"
    assert light_ink != dark_ink, "the text and lines take the theme's text colour"
