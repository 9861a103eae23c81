"""The doorkeeper that admits a cache entry from its second request: it remembers every key offered, rarely
takes a new key for an old one, forgets everything after its reset, and answers the same from many threads."""

import random
import threading

import pytest

from app.admission import Doorkeeper


def test_a_key_is_new_the_first_time_and_seen_the_second():
    door = Doorkeeper()
    assert not door.seen_before(("break-even", 1.5))
    assert door.seen_before(("break-even", 1.5))
    assert not door.seen_before(("break-even", 2.5))


def test_new_keys_are_rarely_taken_for_seen_ones_up_to_the_reset():
    door = Doorkeeper(reset_after=1_000_000)  # no reset: the filter's fullest state at 16,384 keys
    rng = random.Random(11)
    for _ in range(16_384):
        door.seen_before(rng.random())
    false_positives = sum(door.seen_before(("fresh", n)) for n in range(5_000))
    assert false_positives / 5_000 < 0.05  # ~3% by the formula in app.admission


def test_after_the_reset_every_key_is_new_again():
    door = Doorkeeper(reset_after=10)
    for n in range(9):
        door.seen_before(n)
    assert door.seen_before(0)  # the 10th offer: seen, and the filter is cleared after it
    assert door.offers == 0
    assert not door.seen_before(0) and not door.seen_before(5)


def test_many_threads_offering_the_same_keys_agree_once_they_are_done():
    door = Doorkeeper(reset_after=1_000_000)  # 16,000 offers: past the default reset
    keys = [("s", n) for n in range(2_000)]
    barrier = threading.Barrier(8)

    def offer():
        barrier.wait()
        for key in keys:
            door.seen_before(key)

    threads = [threading.Thread(target=offer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(door.seen_before(key) for key in keys)


def test_a_size_that_is_not_a_power_of_two_is_refused_by_name():
    with pytest.raises(ValueError, match="bits must be a power of two"):
        Doorkeeper(bits=1000)
