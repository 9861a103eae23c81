"""The Docker image, built and run for real: see tests/docker/docker_env.py for how the build is fed."""
