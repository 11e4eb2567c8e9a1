"""Background threads: producers beside the consumer, through bounded queues.

Decoding, drawing clips and encoding are Python/NumPy work that can overlap the
model's TensorFlow kernels. :func:`threaded` is vizattn's one way to run a
producer beside its consumer:

>>> list(threaded(iter(range(3))))
[0, 1, 2]

and :func:`parallel_map` its one way to spread independent items (frames to
draw) over several threads, results in order:

>>> list(parallel_map(lambda x: x * x, range(4)))
[0, 1, 4, 9]

:func:`in_background` runs one call beside the caller, for its result later:

>>> in_background(sum, [1, 2]).result()
3

An exception in a producer or worker is raised in the consumer; when the
consumer stops early (an error, Ctrl-C, ``break``), the threads stop too.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["in_background", "parallel_map", "threaded"]

_SENTINEL = object()


def threaded(source: Iterable, maxsize: int = 3) -> Iterator:
    """Runs ``source`` in a thread; yields its items through a bounded queue.

    Args:
      source: any iterable; it is iterated in a daemon thread.
      maxsize: items the producer may run ahead of the consumer.
    """
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def work():
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_SENTINEL)
        except BaseException as e:  # re-raised in the consumer
            q.put(e)

    thread = threading.Thread(target=work, daemon=True)
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


def parallel_map(fn: Callable, items: Iterable, *, workers: int = 2, ahead: int = 8) -> Iterator:
    """Yields ``fn(item)`` for every item, in order, computed by ``workers`` threads.

    Worth it when ``fn`` spends its time in code that releases the GIL (NumPy on
    large arrays). ``items`` is iterated in the calling thread.

    Args:
      fn: the function; it must be safe to call from several threads at once.
      items: any iterable.
      workers: threads; 1 computes in the calling thread.
      ahead: items submitted before the first result is waited for (bounds memory).
    """
    if int(workers) <= 1:  # no pool: the calling thread does the work
        yield from map(fn, items)
        return
    pending: deque = deque()
    with ThreadPoolExecutor(int(workers), thread_name_prefix="vizattn") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= max(1, int(ahead)):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # stopped early: drop what has not started
                future.cancel()


def in_background(fn: Callable, *args: Any) -> Future:
    """Starts ``fn(*args)`` in a thread of its own; ``.result()`` waits for its value
    (or raises its exception). The thread ends with the call."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="vizattn")
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)
