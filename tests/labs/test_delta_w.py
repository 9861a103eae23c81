"""Chapter 3's real ΔW: one layer of the micro base fully fine-tuned and saved as .npy (cached), and a QLoRA run's
adapter update for the same layer saved beside its adapter, of rank at most r."""

import dataclasses
import json

import numpy as np

from tests.labs.conftest import lab_environment


def test_the_real_delta_w_is_one_trained_layer_saved_for_numpy_and_cached(micro_base, lab_data_dir):
    from labs.delta_w import build_delta_w

    with lab_environment(lab_data_dir):
        out = build_delta_w("micro")
        delta = np.load(out / "delta_w.npy")
        meta = json.loads((out / "meta.json").read_text())
        stamp = (out / "delta_w.npy").stat().st_mtime_ns
        assert build_delta_w("micro") == out and (out / "delta_w.npy").stat().st_mtime_ns == stamp  # cached
    assert delta.shape == tuple(meta["shape"]) and delta.dtype == np.float32
    assert meta["layer"].endswith("self_attn.o_proj") and meta["steps"] == 60
    assert np.linalg.norm(delta) > 0  # the layer moved
    s = np.linalg.svd(delta, compute_uv=False)
    assert s[0] > 3 * s[len(s) // 2]  # a trained update is far from flat: a few directions dominate


def test_a_rebuilt_base_invalidates_its_cached_delta_w(lab_data_dir):
    from labs import models_dir
    from labs.base import BaseSpec, build_base
    from labs.delta_w import build_delta_w

    spec = BaseSpec("nano-dw", vocab_size=512, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=1,
                    seq_len=64, batch_size=4, steps=3, n_chats=60, n_articles=20, n_general=10)
    build_base(spec=spec, out=models_dir() / "nano-dw", show_progress=False)
    first = np.load(build_delta_w("nano-dw") / "delta_w.npy")
    assert (build_delta_w("nano-dw") / "delta_w.npy").exists()  # cached while the base is unchanged
    build_base(spec=dataclasses.replace(spec, seed=1), out=models_dir() / "nano-dw", show_progress=False)
    out = build_delta_w("nano-dw")
    assert json.loads((out / "meta.json").read_text())["base_build"]["seed"] == 1
    assert not np.array_equal(np.load(out / "delta_w.npy"), first)  # taken from the new weights, not the old


def test_a_run_saves_its_adapters_update_on_that_layer_with_rank_at_most_r(short_run):
    run_dir, _ = short_run
    update = np.load(run_dir / "adapter_update.npy")
    info = json.loads((run_dir / "adapter_update.json").read_text())
    assert info["layer"].endswith("self_attn.o_proj") and info["r"] == 8
    assert 0 < np.linalg.matrix_rank(update, tol=1e-7) <= 8
