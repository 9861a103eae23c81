"""The offline rule: no page points a browser at another host, and every local asset it names exists."""

import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "action", "hx-get", "hx-post", "poster", "data") and value:
                self.urls.append(value)


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def _pages(course) -> list[str]:
    return ["/", "/chapters/not-a-chapter", *(c.url for c in course.chapters)]


@pytest.mark.parametrize("index", range(12))
def test_no_page_loads_anything_from_another_host(client, course, index):
    path = _pages(course)[index]
    html = client.get(path).text
    for url in _links(html):
        parsed = urlparse(url)
        assert not parsed.netloc and parsed.scheme in ("", "mailto"), f"{path} points at {url}"
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html), f"{path} has an off-host CSS url()"


def test_every_local_script_and_stylesheet_a_page_names_is_served(client, course):
    for path in _pages(course):
        for url in _links(client.get(path).text):
            if url.startswith("/static/"):
                assert client.get(url).status_code == 200, f"{path} names missing {url}"


def test_htmx_and_plotly_are_served_from_the_npm_install(client):
    htmx = client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and len(htmx.content) > 20_000
    plotly = client.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert client.get("/static/vendor/../../pyproject.toml").status_code == 404
    assert client.get("/static/vendor/package.json").status_code == 404


def test_the_stylesheets_use_no_web_fonts_or_remote_urls(client):
    for path in ("/static/app.css", "/static/vendor/highlight.css"):
        css = client.get(path).text
        assert "@import" not in css and "@font-face" not in css
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
