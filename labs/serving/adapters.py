"""A base model loaded once, with an LRU of LoRA adapters on it (peft multi-adapter: load, set, delete).

The base loads as the labs train it (`labs.train.load_tokenizer`, `labs.quant.load_model`: 4-bit NF4 with the
default recipe's settings where the layer sizes allow it). Adapter ids are the callers' (run ids); peft gets a safe
internal name for each. Callers hold `lock` around anything that runs or changes the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

from labs import LabError
from labs.serving.requests import RequestError


class LoadedBase:
    def __init__(self, name: str, model, tokenizer, max_adapters: int):
        self.name = name
        self.model = model  # the transformers model, or a PeftModel around it once an adapter is loaded
        self.tokenizer = tokenizer
        self.max_adapters = max_adapters
        self.lock = threading.RLock()
        self.adapters: OrderedDict[str, str] = OrderedDict()  # adapter id -> path, least recently used first
        self.eos_ids = _eos_ids(model, tokenizer)
        self.context = getattr(model.config, "max_position_embeddings", None) or 2048

    @classmethod
    def load(cls, name: str, max_adapters: int, device: str = "auto") -> "LoadedBase":
        from labs.base import resolve_base
        from labs.config import load_recipe
        from labs.quant import check_quantizable, load_model, pick_device
        from labs.train import load_tokenizer

        recipe = load_recipe("legal-format")  # the default recipe's quantisation: what adapters were trained on
        device = pick_device(device)
        path = resolve_base(name, show_progress=False)
        tokenizer = load_tokenizer(path, name)
        quantization = recipe.quantization
        from transformers import AutoConfig

        try:
            check_quantizable(AutoConfig.from_pretrained(path), device)
        except LabError:  # a base whose layers are not multiples of QUANT_BLOCK cannot be 4-bit on CPU
            quantization = "none"
        model = load_model(path, quantization, recipe.double_quant, recipe.resolved_dtype(device), device)
        model.eval()
        return cls(name, model, tokenizer, max_adapters)

    @staticmethod
    def peft_name(adapter_id: str) -> str:
        """peft keeps adapters in ModuleDicts, whose keys may not contain dots: a stable name from the id."""
        return "a" + hashlib.sha1(adapter_id.encode()).hexdigest()[:16]

    def ensure_adapter(self, adapter_id: str, path: str) -> list[str]:
        """Load (or touch) `adapter_id` from `path`; returns the ids it evicted. Hold `lock`."""
        if self.adapters.get(adapter_id) == path:
            self.adapters.move_to_end(adapter_id)
            return []
        if adapter_id in self.adapters:  # same id, new files: reload
            self.delete_adapter(adapter_id)
        folder = Path(path)
        if not (folder / "adapter_config.json").is_file():
            raise RequestError(f"adapter {adapter_id!r}: {path} holds no adapter_config.json")
        evicted = []
        while len(self.adapters) >= self.max_adapters:
            oldest = next(iter(self.adapters))
            self.delete_adapter(oldest)
            evicted.append(oldest)
        from peft import PeftModel

        try:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(folder), adapter_name=self.peft_name(adapter_id))
            else:
                self.model = PeftModel.from_pretrained(self.model, str(folder), adapter_name=self.peft_name(adapter_id))
        except (RuntimeError, ValueError, KeyError, OSError) as exc:  # e.g. shapes of another base
            raise RequestError(f"adapter {adapter_id!r} does not load onto base {self.name!r}: {exc}") from exc
        self.model.eval()
        self.adapters[adapter_id] = path
        return evicted

    def delete_adapter(self, adapter_id: str) -> bool:
        """Remove `adapter_id` from the model. Hold `lock`."""
        if adapter_id not in self.adapters:
            return False
        with warnings.catch_warnings():  # "was active, now X is": every batch sets its own adapter anyway
            warnings.filterwarnings("ignore", message=".*was active which is now deleted.*")
            self.model.delete_adapter(self.peft_name(adapter_id))
        del self.adapters[adapter_id]
        return True

    @contextlib.contextmanager
    def activate(self, adapter_id: str | None):
        """Yields the model to run for `adapter_id`, or for the bare base when None. Hold `lock`."""
        from peft import PeftModel

        from labs.serving.lean_lora import lean_lora

        if not isinstance(self.model, PeftModel):
            yield self.model
            return
        name = None if adapter_id is None else self.peft_name(adapter_id)
        if name is not None:
            self.model.set_adapter(name)
        # with every adapter unloaded peft's forward looks up the last active one: run the wrapped model instead
        model = self.model if self.adapters else self.model.base_model.model
        with lean_lora(model, name):
            yield model

    def memory_mb(self) -> float:
        """Bytes of parameters and buffers (4-bit weights count as their packed bytes), in MiB."""
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        return round(sum(t.numel() * t.element_size() for t in tensors) / 2**20, 3)


def _eos_ids(model, tokenizer) -> set[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = set(ids if isinstance(ids, list) else [ids]) if ids is not None else set()
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids
