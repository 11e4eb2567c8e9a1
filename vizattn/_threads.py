"""Background threads: run a producer beside the consumer, through a bounded queue.

Decoding, drawing clips and encoding are Python/NumPy work that can overlap the
model's TensorFlow kernels. :func:`threaded` is vizattn's one way to do that:

>>> list(threaded(iter(range(3))))
[0, 1, 2]

An exception in the producer is raised in the consumer; when the consumer
stops early (an error, Ctrl-C, ``break``), the producer thread stops too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

__all__ = ["threaded"]

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
