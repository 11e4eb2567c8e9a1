"""Background threads: producers beside the consumer, through bounded queues.

Decoding, drawing clips and encoding are Python/NumPy work that can overlap the
model's TensorFlow kernels. :func:`threaded` is vizattn's one way to run a
producer beside its consumer:

>>> list(threaded(iter(range(3))))
[0, 1, 2]

and :func:`in_background` runs one call beside the caller, for its result later:

>>> in_background(sum, [1, 2]).result()
3

An exception in a producer is raised in the consumer; when the consumer stops
early (an error, Ctrl-C, ``break``) and closes the iterator (``close()``,
``contextlib.closing``), the producer stops too, and is closed in its thread,
before ``close()`` returns (up to 5 s). Close it before releasing what the
producer reads: a video closed while a thread decodes from it can crash.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["in_background", "threaded"]

_SENTINEL = object()


def threaded(source: Iterable, maxsize: int = 3) -> Iterator:
    """Runs ``source`` in a thread; yields its items through a bounded queue.

    Args:
      source: any iterable; it is iterated in a daemon thread.
      maxsize: items the producer may run ahead of the consumer.
    """
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(item) -> bool:
        """Waits for room in the queue, unless the consumer has stopped (``False``)."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in source:
                if not put(item):
                    # Closed here, in its own thread, so that its cleanup (a
                    # generator's ``finally``: closing a video, say) runs now.
                    close = getattr(source, "close", None)
                    if close is not None:
                        close()
                    return
            put(_SENTINEL)
        except BaseException as e:  # re-raised in the consumer
            put(e)

    name = getattr(source, "__name__", type(source).__name__)
    thread = threading.Thread(target=work, daemon=True, name=f"vizattn-threaded-{name}")
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _SENTINEL:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def in_background(fn: Callable, *args: Any) -> Future:
    """Starts ``fn(*args)`` in a thread of its own; ``.result()`` waits for its value
    (or raises its exception). The thread ends with the call."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="vizattn")
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)
