#!/usr/bin/env bash
# Stand-ins for the Dockerfile's base images (python:3.11-slim-bookworm, node:20-bookworm-slim), made from
# Debian packages for machines that cannot reach Docker Hub. Each is built once and kept while docker has it.
#   tests/docker/standin_images.sh            prints the two image names once they exist
# The Debian mirror is the one this machine's apt already uses; the machine's extra CA certificates and pip
# certificate setting go in, so pip and npm inside a build trust the registries' TLS the way the host does.
set -euo pipefail

PYTHON_STANDIN=${PYTHON_STANDIN:-ftip-standin/python:3.11-bookworm}
NODE_STANDIN=${NODE_STANDIN:-ftip-standin/node:bookworm}
WORK=${STANDIN_WORK:-/var/tmp/ftip-standin}

mirror() {
  # The first Debian "URIs:" (deb822) or "deb" line of this machine's apt sources.
  local uri
  uri=$(grep -hE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}')
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^deb .*/debian/? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
          | head -n1 | awk '{print $2}')
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

build_standin() {  # name, comma-separated packages, extra `docker import --change` lines...
  local name=$1 packages=$2; shift 2
  if docker image inspect "$name" >/dev/null 2>&1; then
    echo "$name"; return
  fi
  local root="$WORK/$(echo "$name" | tr '/:' '__')"
  rm -rf "$root"; mkdir -p "$root"
  echo "Building stand-in base image $name from $(mirror) (debootstrap, a few minutes)" >&2
  debootstrap --variant=minbase --include="$packages" bookworm "$root" "$(mirror)" >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; echo "debootstrap failed for $name (log: $root.log)" >&2; exit 1; }
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
  fi
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
  # Like the official slim images (~125 MB): no apt lists or downloaded packages, no docs, no translations.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
         "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
  local changes=()
  for change in "$@"; do changes+=(--change "$change"); done
  tar -C "$root" -c . | docker import "${changes[@]}" - "$name" >/dev/null
  rm -rf "$root" "$root.log"
  echo "$name"
}

command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }

build_standin "$PYTHON_STANDIN" python3,python3-venv,ca-certificates \
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV LANG=C.UTF-8' 'CMD ["python3"]'

# Node on top of the Python stand-in, with apt inside (debootstrap's --include cannot resolve npm's dependencies).
if ! docker image inspect "$NODE_STANDIN" >/dev/null 2>&1; then
  echo "Building stand-in base image $NODE_STANDIN (apt-get install nodejs npm)" >&2
  printf '%s\n' "FROM $PYTHON_STANDIN" \
    'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*' \
    'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    | DOCKER_BUILDKIT=0 docker build --network host -q -t "$NODE_STANDIN" - >/dev/null
fi
echo "$NODE_STANDIN"
