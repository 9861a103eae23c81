"""Admission to the bounded caches of what many learners share (simulation runs, slider fragments, compressed
bodies): a value is kept from the second time it is asked for, not the first.

Most of what a server computes once is never asked for again: a slider stopped on a value on its way elsewhere,
a client that sends parameters at random, a body sent once. Kept on first sight, each such one-off pushes out an
entry that is asked for again, and replacing entries all day fragments the heap (in the soak, where every
simulation state is new, the run cache and the compressed bodies replaced an entry on every simulation request,
and RSS kept rising: benchmarks/soak). A value asked for twice is the one worth keeping: a class on the same
slider value, a learner dragging back to where they were, the same JSON for everyone.

`Doorkeeper` remembers which keys were offered as bits in a fixed Bloom filter (TinyLFU's "doorkeeper"): nothing
kept per key, a fixed 16 kB per cache, cleared after `reset_after` offers so it forgets old one-offs.
"""

import threading
from collections.abc import Hashable

BITS = 1 << 17  # 16 kB of bits
HASHES = 3
# With 3 hashes over 2^17 bits, a key never offered is taken for one offered before (and kept on its first
# request) at most (1 - e^(-3n/2^17))^3 of the time: 3% just before a reset at n = 16,384, under 0.5% at n = 8,192.
RESET_AFTER = 16_384


class Doorkeeper:
    """`seen_before(key)`: whether `key` was offered since the last reset; it is offered by asking. Safe to share
    between threads."""

    def __init__(self, bits: int = BITS, hashes: int = HASHES, reset_after: int = RESET_AFTER):
        if bits & (bits - 1) or bits < 64:
            raise ValueError(f"bits must be a power of two of at least 64 (got {bits})")
        self._bits = bytearray(bits // 8)
        self._mask = bits - 1
        self._shift = (bits - 1).bit_length()  # each hash takes its own bits of the key's 64-bit hash
        self._hashes = hashes
        self.reset_after = reset_after
        self.offers = 0  # since the last reset
        self._lock = threading.Lock()

    def seen_before(self, key: Hashable) -> bool:
        # Python's hash is stable within the process (str hashes are salted per process: never persisted here).
        # Positions come from one 64-bit hash, its bits rotated: one hash call a key.
        value = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
        with self._lock:
            seen = True
            for _ in range(self._hashes):
                position = value & self._mask
                byte, bit = position >> 3, 1 << (position & 7)
                if not self._bits[byte] & bit:
                    seen = False
                    self._bits[byte] |= bit
                value = (value >> self._shift) | ((value << (64 - self._shift)) & 0xFFFF_FFFF_FFFF_FFFF)
            self.offers += 1
            if self.offers >= self.reset_after:
                self._forget()
            return seen

    def clear(self) -> None:
        """Forget every key (a cache that is cleared starts its admission afresh)."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:  # with the lock held
        self._bits[:] = bytes(len(self._bits))
        self.offers = 0
