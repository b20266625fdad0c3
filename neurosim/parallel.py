"""Threads over independent rows of work (images of a batch), with results that do not depend on their number.

The thread count is Numba's (``numba.get_num_threads()``: ``NUMBA_NUM_THREADS``
or the number of cores, changed with ``numba.set_num_threads`` or the CLI's
``--threads``), the one setting for every parallel part of the simulator: the
crossbar reads split a batch chunk's rows across threads here, the spiking
engines their samples. Sweep worker processes run with one thread each.

The jitted kernels release the GIL, so plain Python threads run them in
parallel. While they do, BLAS is held to one thread (threadpoolctl, for the
whole process: each reading thread's BLAS calls then run on that thread), so
threads x BLAS threads never exceeds the thread count.
Every random draw is a pure function of a stream key and the row's index
(:mod:`neurosim.streams`), so a split of the rows gives the draws of the whole.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numba
from threadpoolctl import ThreadpoolController

from neurosim.errors import NeurosimError

#: Fewest rows a thread is given: below this, a split costs more than it saves.
MIN_ROWS = 64

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_blas = None


def threads() -> int:
    """The number of threads parallel work may use (Numba's thread count)."""
    return numba.get_num_threads()


def set_threads(n: int) -> None:
    """Use ``n`` threads from now on (at most ``NUMBA_NUM_THREADS``, which is fixed when Numba starts)."""
    top = numba.config.NUMBA_NUM_THREADS
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= top:
        raise NeurosimError(f"threads = {n!r} is not allowed: a whole number from 1 to {top} (NUMBA_NUM_THREADS)")
    numba.set_num_threads(n)


def row_blocks(n: int, n_threads: int | None = None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: ``n`` rows split into at most ``n_threads`` blocks of at least :data:`MIN_ROWS`."""
    n_threads = threads() if n_threads is None else n_threads
    parts = max(1, min(n_threads, n // MIN_ROWS))
    edges = [n * i // parts for i in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:  # a smaller pool left behind finishes what it was given
            _pool, _pool_size = ThreadPoolExecutor(size, thread_name_prefix="neurosim"), size
        return _pool


def map_blocks(fn, blocks) -> list:
    """``[fn(start, stop) for (start, stop) in blocks]``, the blocks in parallel threads when there are several.

    Results come back in the order of ``blocks``; the first exception raised is re-raised.
    """
    if len(blocks) == 1:
        return [fn(*blocks[0])]
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()
    with _blas.limit(limits=1, user_api="blas"):
        futures = [_executor(len(blocks)).submit(fn, *b) for b in blocks]
        return [f.result() for f in futures]
