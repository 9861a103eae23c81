"""Chapter 3's real ΔW: one layer of the micro base fully fine-tuned and saved as .npy (cached), and a QLoRA run's
adapter update for the same layer saved beside its adapter, of rank at most r."""

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


def test_a_run_saves_its_adapters_update_on_that_layer_with_rank_at_most_r(short_run):
    run_dir, _ = short_run
    update = np.load(run_dir / "adapter_update.npy")
    info = json.loads((run_dir / "adapter_update.json").read_text())
    assert info["layer"].endswith("self_attn.o_proj") and info["r"] == 8
    assert 0 < np.linalg.matrix_rank(update, tol=1e-7) <= 8
