"""vizattn._threads: the one way vizattn runs work beside the consumer.

Properties: every item arrives once and in order; a failure in a thread is
raised in the consumer; a consumer that stops early stops the threads.
"""

from __future__ import annotations

import threading
import time

import pytest

from vizattn._threads import parallel_map, threaded


def test_threaded_yields_every_item_in_order_from_another_thread():
    seen: set[int] = set()

    def source():
        for i in range(50):
            seen.add(threading.get_ident())
            yield i

    assert list(threaded(source(), maxsize=2)) == list(range(50))
    assert seen and threading.get_ident() not in seen


def test_threaded_raises_the_producers_error_in_the_consumer():
    def source():
        yield 1
        raise ValueError("bad frame 2")

    it = threaded(source())
    assert next(it) == 1
    with pytest.raises(ValueError, match="bad frame 2"):
        next(it)


def test_threaded_stops_its_producer_when_the_consumer_stops():
    produced = []

    def source():
        for i in range(10_000):
            produced.append(i)
            yield i

    it = threaded(source(), maxsize=2)
    assert next(it) == 0
    it.close()  # what `break` or an exception in the consumer does
    n = len(produced)
    time.sleep(0.3)
    assert len(produced) == n < 10  # bounded queue, and nothing more after close


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_parallel_map_keeps_the_order_whatever_the_workers_take(workers):
    def slow_square(i):
        time.sleep(0.002 * ((7 * i) % 5))  # later items often finish first
        return i * i

    assert list(parallel_map(slow_square, range(40), workers=workers, ahead=6)) == [
        i * i for i in range(40)
    ]


def test_parallel_map_runs_items_at_the_same_time():
    running, most = 0, 0
    lock = threading.Lock()

    def work(i):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return i

    assert list(parallel_map(work, range(12), workers=3)) == list(range(12))
    assert most == 3


def test_parallel_map_raises_a_workers_error_and_drops_the_rest():
    started = []

    def work(i):
        started.append(i)
        if i == 3:
            raise ValueError("cannot draw frame 3")
        time.sleep(0.01)
        return i

    out = []
    with pytest.raises(ValueError, match="frame 3"):
        for value in parallel_map(work, range(1000), workers=2, ahead=4):
            out.append(value)
    assert out == [0, 1, 2]
    assert len(started) < 20  # bounded look-ahead; queued items were cancelled
