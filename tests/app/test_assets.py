"""The asset build and how its files are served: hashed names, precompressed siblings, immutable caching,
the encoding each browser gets, and the Plotly bundle each chapter loads."""

import gzip
import hashlib
import json

import brotli
import pytest
import zstandard

from app import assets
from app.assets import MANIFEST, VENDOR_FILES, Assets, build, hashed_name, plotly_bundle
from app.settings import Settings

@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    """A build from stand-in vendor files and stand-in Plotly bundles (the real ones take a minute to compress
    at the highest levels; the real Sankey bundle is built below and drawn by tests/browser)."""
    node_modules = tmp_path_factory.mktemp("node_modules")
    for logical, relative in VENDOR_FILES.items():
        (node_modules / relative).parent.mkdir(parents=True, exist_ok=True)
        (node_modules / relative).write_text(f"/* stand-in for {logical} */ " + "var x = 1;\n" * 200)
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), node_modules_dir=node_modules,
                        assets_dir=tmp_path_factory.mktemp("assets"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(assets, "plotly_bundle", lambda _, modules: f"/* stand-in with {modules} */".encode() * 50)
        yield settings, build(settings)


def test_every_asset_is_written_under_the_hash_of_its_content_with_three_compressed_copies(small_build):
    settings, manifest = small_build
    assert {"app.css", "app.js", "vendor/htmx.min.js", "vendor/plotly-basic.min.js", "vendor/highlight.css",
            "vendor/plotly-sankey.min.js"} <= set(manifest)
    for logical, entry in manifest.items():
        content = (settings.assets_dir / entry["file"]).read_bytes()
        assert hashlib.sha256(content).hexdigest()[:12] in entry["file"] and len(content) == entry["bytes"]
        assert entry["file"] == hashed_name(logical, content)
        for suffix, decompress in ((".br", brotli.decompress), (".gz", gzip.decompress),
                                   (".zst", zstandard.ZstdDecompressor().decompress)):
            assert decompress((settings.assets_dir / (entry["file"] + suffix)).read_bytes()) == content
    assert json.loads((settings.assets_dir / MANIFEST).read_text()) == manifest


def test_a_second_build_of_unchanged_files_rewrites_nothing_and_a_change_gets_a_new_name(small_build):
    settings, manifest = small_build
    htmx = settings.assets_dir / manifest["vendor/htmx.min.js"]["file"]
    before = htmx.with_name(htmx.name + ".br").stat().st_mtime_ns
    assert build(settings) == manifest
    assert htmx.with_name(htmx.name + ".br").stat().st_mtime_ns == before
    (settings.node_modules_dir / VENDOR_FILES["vendor/htmx.min.js"]).write_text("var changed = 2;")
    assert build(settings)["vendor/htmx.min.js"]["file"] != manifest["vendor/htmx.min.js"]["file"]


def test_a_build_without_npm_packages_says_to_run_npm_ci(tmp_path):
    settings = Settings(data_dir=tmp_path, node_modules_dir=tmp_path / "none", assets_dir=tmp_path / "assets")
    with pytest.raises(SystemExit, match="npm ci"):
        build(settings)


def test_the_sankey_bundle_is_built_from_plotly_js_by_esbuild_and_is_a_quarter_of_the_full_one(settings):
    bundle = plotly_bundle(settings.node_modules_dir, ("bar", "sankey"))
    full = (settings.node_modules_dir / VENDOR_FILES["vendor/plotly.min.js"]).read_bytes()
    assert bundle.startswith(b"var Plotly=") and b"sankey" in bundle
    assert len(brotli.compress(bundle, quality=5)) < 0.4 * len(brotli.compress(full, quality=5))


def test_an_unknown_plotly_module_stops_the_build_with_esbuilds_reason(settings):
    with pytest.raises(SystemExit, match="plotly.js/lib/no-such-trace"):
        plotly_bundle(settings.node_modules_dir, ("no-such-trace",))


def test_an_app_without_built_assets_names_the_command_that_builds_them(tmp_path):
    with pytest.raises(RuntimeError, match="python -m app.assets build"):
        Assets.load(tmp_path)


def test_a_hashed_url_is_immutable_and_sent_in_the_best_encoding_the_browser_accepts(client, app):
    url = app.state.assets.url("vendor/htmx.min.js")
    built = app.state.assets.root / app.state.assets.manifest["vendor/htmx.min.js"]["file"]
    for accept, expected, suffix in (("gzip, deflate, br, zstd", "br", ".br"), ("gzip, zstd", "zstd", ".zst"),
                                     ("gzip", "gzip", ".gz")):
        response = client.get(url, headers={"Accept-Encoding": accept})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["content-encoding"] == expected
        assert response.headers["content-type"].startswith("text/javascript")
        assert int(response.headers["content-length"]) == built.with_name(built.name + suffix).stat().st_size
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == built.read_bytes()


def test_the_plain_name_still_answers_but_is_revalidated_and_anything_else_is_a_404(client):
    plain = client.get("/static/app.css")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "public, max-age=0, must-revalidate"
    for path in ("/static/manifest.json", "/static/../pyproject.toml", "/static/vendor/package.json", "/static/nope.js"):
        assert client.get(path).status_code == 404, path


def test_a_chart_page_loads_only_the_plotly_bundle_its_trace_types_need(client, course, app):
    bundles = {}
    for chapter in course.chapters:
        html = client.get(chapter.url).text
        loaded = [name for name in ("plotly-basic", "plotly-cartesian", "plotly-sankey", "plotly.min")
                  if f"/static/vendor/{name}." in html]
        bundles[chapter.number] = loaded
        if not chapter.meta.simulations:
            assert loaded == [] and "simulations." not in html, chapter.slug
        else:
            assert len(loaded) == 1, chapter.slug
    assert bundles[0] == ["plotly-basic"]  # scatter only
    assert bundles[3] == ["plotly-cartesian"]  # the LoRA rank heatmap
    assert bundles[6] == ["plotly-sankey"]  # a Sankey diagram is in neither partial bundle: built at set-up


@pytest.mark.parametrize(("types", "bundle"), [
    ({"scatter"}, "plotly-basic"), ({"bar", "pie"}, "plotly-basic"), ({"scatter", "heatmap"}, "plotly-cartesian"),
    ({"violin"}, "plotly-cartesian"), ({"bar", "sankey"}, "plotly-sankey"), ({"scatter3d"}, "plotly.min"),
    ({"sankey", "heatmap"}, "plotly.min"),
])
def test_the_smallest_bundle_that_has_every_trace_type_is_chosen(app, types, bundle):
    assert f"/static/vendor/{bundle}." in app.state.assets.plotly_url(types)
