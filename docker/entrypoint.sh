#!/bin/sh
# The image's entrypoint: gives the data volume the base models the image ships (the offline default `tiny`)
# when it lacks them (a new volume, a bind mount, an old volume), then runs the command, the course by default.
set -eu
data="${COURSE_DATA_DIR:-/data}"
for shipped in /srv/course/models/*/; do
  [ -f "$shipped/config.json" ] || continue
  name=$(basename "$shipped")
  target="$data/models/$name"
  if [ ! -f "$target/config.json" ]; then
    echo "course-entrypoint: copying the image's base model '$name' into $target"
    mkdir -p "$data/models"
    rm -rf "$target.partial"
    cp -R "$shipped" "$target.partial"
    rm -rf "$target"
    mv "$target.partial" "$target"
  fi
done
exec "$@"
