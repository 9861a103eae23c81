# syntax=docker/dockerfile:1
# Fine-Tuning in Practice: the course server with its lab engine.
#   CPU image (default):  docker build -t ftip .
#   CUDA image:           docker build --target cuda -t ftip:cuda .
# Data (database, base models, lab runs) lives in the /data volume.

FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim-bookworm AS python-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The CPU build of torch keeps the image a fraction of the CUDA one's size.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY app ./app
COPY simulations ./simulations
COPY labs ./labs
# The project itself; its dependencies are pinned in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install '.[labs,postgres]'

FROM python:3.11-slim-bookworm AS cpu
LABEL org.opencontainers.image.title="Fine-Tuning in Practice" \
      org.opencontainers.image.description="Interactive fine-tuning course with real QLoRA labs"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    COURSE_DATA_DIR=/data \
    PYTHONPATH=/srv/course \
    COURSE_NODE_MODULES_DIR=/srv/course/node_modules \
    HF_HUB_OFFLINE=1 \
    OPENBLAS_NUM_THREADS=1
WORKDIR /srv/course
COPY --from=python-deps /opt/venv /opt/venv
COPY --from=assets /src/node_modules ./node_modules
COPY app ./app
COPY simulations ./simulations
COPY labs ./labs
COPY chapters ./chapters
COPY templates ./templates
COPY static ./static
RUN mkdir -p /data && chown 10001:10001 /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["course", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS cuda
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    COURSE_DATA_DIR=/data \
    PYTHONPATH=/srv/course \
    COURSE_NODE_MODULES_DIR=/srv/course/node_modules \
    HF_HUB_OFFLINE=1 \
    OPENBLAS_NUM_THREADS=1
WORKDIR /srv/course
COPY pyproject.toml README.md ./
COPY app ./app
COPY simulations ./simulations
COPY labs ./labs
# hadolint ignore=DL3013
RUN pip install torch==2.13.0 && pip install '.[labs,postgres,ray]'
COPY --from=assets /src/node_modules ./node_modules
COPY chapters ./chapters
COPY templates ./templates
COPY static ./static
RUN mkdir -p /data && chown 10001:10001 /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["course", "serve", "--host", "0.0.0.0", "--port", "8000"]
