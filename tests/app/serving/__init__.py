"""Serving trained adapters through an OpenAI-compatible /v1."""
