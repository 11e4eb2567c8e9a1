"""vizattn._threads: the one way vizattn runs work beside the consumer.

Properties: every item arrives once and in order; a failure in a thread is
raised in the consumer; a consumer that stops early stops the threads.
"""

from __future__ import annotations

import threading
import time

import pytest

from vizattn._threads import threaded


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


@pytest.mark.parametrize("ending", ["exhausted", "error"])
def test_a_closed_producer_ends_even_when_its_source_ended_into_a_full_queue(ending):
    """The producer's last word (the end marker, or its error) waits for room in the
    queue; a consumer that stops without reading it must not leave the thread waiting
    (it held a video open after an interrupted render)."""

    def source():
        yield from range(3)
        if ending == "error":
            raise ValueError("boom")

    it = threaded(source(), maxsize=1)
    assert next(it) == 0
    time.sleep(0.3)  # the producer is done, waiting to hand over its last word
    it.close()
    assert not [t for t in threading.enumerate() if t.name == "vizattn-threaded-source"]


def test_a_stopped_producer_closes_its_source_in_its_own_thread():
    closed_in = []

    def source():
        try:
            yield from range(100)
        finally:
            closed_in.append(threading.current_thread().name)

    it = threaded(source(), maxsize=1)
    assert next(it) == 0
    it.close()
    assert closed_in == ["vizattn-threaded-source"]  # before close() returned
