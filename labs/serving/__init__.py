"""Serving trained adapters: one base model per process, an LRU of LoRA adapters on it, batched decoding.

`requests` (the request and result shapes, checked), `decode` (one batched decode with a KV cache), `adapters`
(a base and its adapter LRU), `engine` (the scheduler), `server` (`course-lab serve-models`, HTTP on 127.0.0.1).
Importing this package is cheap: torch loads when an engine is created.
"""
