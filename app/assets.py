"""The asset build: the app's own static files and the npm-installed vendor files, copied once at set-up
into an ignored folder under content-hashed names with .br, .zst and .gz siblings, plus a manifest.

`python -m app.assets build` (run by `make setup`) writes it; the app only reads the manifest and serves
the files (app.routers.assets), so nothing is compressed per request. Templates name an asset by its
logical name through `asset_url("app.css")`; a chart page picks the smallest Plotly bundle it needs.
"""

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import brotli
import zstandard

from app.content import pygments_css
from app.settings import PROJECT_ROOT, Settings, get_settings

MANIFEST = "manifest.json"
STATIC_DIR = PROJECT_ROOT / "static"
# logical name → path inside node_modules (installed by `npm ci` from package-lock.json)
VENDOR_FILES = {
    "vendor/htmx.min.js": "htmx.org/dist/htmx.min.js",
    "vendor/hx-sse.min.js": "htmx.org/dist/ext/hx-sse.min.js",
    "vendor/plotly-basic.min.js": "plotly.js-basic-dist-min/plotly-basic.min.js",
    "vendor/plotly-cartesian.min.js": "plotly.js-cartesian-dist-min/plotly-cartesian.min.js",
    "vendor/plotly.min.js": "plotly.js-dist-min/plotly.min.js",
    "vendor/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",  # the API docs page (app.routers.api_docs)
    "vendor/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
}
GENERATED_FILES = {"vendor/highlight.css": pygments_css}
# A chart whose trace types no small official bundle has gets a bundle built here, by esbuild (npm), from
# plotly.js's own trace modules: logical name → the plotly.js/lib modules it registers (its core has scatter).
# Chapter 6's routing diagram is a Sankey: 390 kB compressed this way, against 1.1 MB for the full bundle.
CUSTOM_PLOTLY_BUNDLES = {"vendor/plotly-sankey.min.js": ("bar", "pie", "sankey")}
# The official partial bundles, smallest first, with the trace types each one registers; the full
# bundle (None) has them all. https://github.com/plotly/plotly.js/blob/master/dist/README.md
PLOTLY_BUNDLES = (
    ("vendor/plotly-basic.min.js", frozenset({"scatter", "bar", "pie"})),
    (
        "vendor/plotly-cartesian.min.js",
        frozenset({"scatter", "bar", "pie", "box", "heatmap", "histogram", "histogram2d", "histogram2dcontour",
                   "contour", "image", "scatterternary", "violin"}),
    ),
    ("vendor/plotly-sankey.min.js", frozenset({"scatter", "bar", "pie", "sankey"})),
    ("vendor/plotly.min.js", None),
)
COMPRESSED_SUFFIXES = {".css", ".js", ".svg", ".json", ".map", ".txt"}
# Content-Encoding → file suffix, in the order the server prefers when a browser accepts several.
ENCODINGS = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}
HASH_LENGTH = 12


def hashed_name(logical: str, content: bytes) -> str:
    """"vendor/htmx.min.js" → "vendor/htmx.min.<first 12 hex of sha256>.js"."""
    path = Path(logical)
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def _sources(settings: Settings) -> Iterable[tuple[str, bytes]]:
    for path in sorted(STATIC_DIR.iterdir()):  # every file of ours: a new one needs no list kept in step
        if path.is_file():
            yield path.name, path.read_bytes()
    for name, relative in VENDOR_FILES.items():
        path = settings.node_modules_dir / relative
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run `npm ci` first (make setup does both).")
        yield name, path.read_bytes()
    for name, generate in GENERATED_FILES.items():
        yield name, generate().encode()
    for name, modules in CUSTOM_PLOTLY_BUNDLES.items():
        yield name, plotly_bundle(settings.node_modules_dir, modules)


def _esbuild(node_modules: Path) -> Path:
    """esbuild's native binary (runs without Node, as in the Docker image's Python stage)."""
    found = sorted(node_modules.glob("@esbuild/*/bin/esbuild")) or [node_modules / ".bin" / "esbuild"]
    if not found[0].is_file():
        raise SystemExit(f"{found[0]} is missing: run `npm ci` first (make setup does both).")
    return found[0]


def plotly_bundle(node_modules: Path, modules: Iterable[str]) -> bytes:
    """A minified Plotly with plotly.js's core and `modules` (e.g. "sankey") registered, as the global `Plotly`.

    The registry imports the map traces' stylesheet; no chart here draws a map, so CSS is left out."""
    requires = ", ".join(f"require('plotly.js/lib/{module}')" for module in modules)
    entry = f"var Plotly = require('plotly.js/lib/core');\nPlotly.register([{requires}]);\nmodule.exports = Plotly;\n"
    command = [str(_esbuild(node_modules)), "--bundle", "--minify", "--format=iife", "--global-name=Plotly",
               "--define:global=window", "--define:define.amd=false", "--target=es2016", "--loader:.css=empty",
               "--log-level=error", "--sourcefile=plotly-custom.js"]
    # The entry comes on stdin and resolves its imports from the folder that holds node_modules.
    built = subprocess.run(command, input=entry.encode(), cwd=node_modules.parent, capture_output=True)
    if built.returncode != 0:
        raise SystemExit(f"esbuild could not bundle Plotly with {requires}: {built.stderr.decode()[-2000:]}")
    return built.stdout


def _write_compressed(target: Path, content: bytes) -> None:
    """The precompressed siblings, at the highest levels: this runs once per content, not per request."""
    variants = {
        ".br": lambda: brotli.compress(content, quality=11),
        ".zst": lambda: zstandard.ZstdCompressor(level=19).compress(content),
        ".gz": lambda: gzip.compress(content, compresslevel=9, mtime=0),
    }
    for suffix, compress in variants.items():
        sibling = target.with_name(target.name + suffix)
        if not sibling.exists():
            sibling.write_bytes(compress())


def build(settings: Settings | None = None) -> dict:
    """Write every asset (skipping those already built: same content, same name) and the manifest."""
    settings = settings or get_settings()
    out = settings.assets_dir
    manifest: dict[str, dict] = {}
    for logical, content in _sources(settings):
        name = hashed_name(logical, content)
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(content)
            partial.replace(target)
        encodings = []
        if target.suffix in COMPRESSED_SUFFIXES:
            _write_compressed(target, content)
            encodings = list(ENCODINGS)
        manifest[logical] = {"file": name, "bytes": len(content), "encodings": encodings}
    partial = out / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    partial.replace(out / MANIFEST)  # atomic: a running server never reads half a manifest
    return manifest


class Assets:
    """The built assets, read from the manifest once per process."""

    def __init__(self, root: Path, manifest: dict[str, dict]):
        self.root = root
        self.manifest = manifest
        self.logical_by_file = {entry["file"]: logical for logical, entry in manifest.items()}

    @classmethod
    def load(cls, root: Path) -> "Assets":
        path = root / MANIFEST
        if not path.is_file():
            raise RuntimeError(
                f"{path} is missing: build the static assets with `python -m app.assets build` (make setup does it)."
            )
        return cls(root, json.loads(path.read_text()))

    def url(self, logical: str) -> str:
        """The content-hashed URL of `logical` ("app.css" → "/static/app.1a2b3c4d5e6f.css")."""
        return "/static/" + self.manifest[logical]["file"]

    def plotly_url(self, trace_types: Iterable[str]) -> str:
        """The smallest official Plotly bundle that registers every one of `trace_types`."""
        needed = set(trace_types)
        for logical, covers in PLOTLY_BUNDLES:
            if covers is None or needed <= covers:
                return self.url(logical)
        raise AssertionError("the full bundle covers every trace type")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.assets", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build"])
    parser.parse_args(argv)
    settings = get_settings()
    manifest = build(settings)
    total = sum(entry["bytes"] for entry in manifest.values())
    print(f"Built {len(manifest)} assets ({total / 1e6:.1f} MB before compression) in {settings.assets_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
