"""Executors for independent work units: a local process pool, or a Dask cluster.

Shared by sweeps (:mod:`icl_companion.numerics.sweep`) and figures
(:mod:`icl_companion.figures.registry`).  Both follow :mod:`concurrent.futures`: a
``ProcessPoolExecutor`` (``fork`` start where available, all workers started at the first
submission) or the ``Client.get_executor()`` of a ``dask.distributed`` scheduler.

Every local worker is pinned to one BLAS/OpenMP thread (environment variables read when the worker
starts, and ``threadpoolctl`` limits), and :func:`pinned_call` applies the same limits around each
unit wherever it runs (a Dask worker, or this process when running serially): a unit's numbers do
not depend on the backend, the worker count or a library's threading.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Backend", "open_backend", "default_workers", "check_workers", "pinned_call",
           "SCHEDULER_TIMEOUT"]

#: Seconds allowed to reach a Dask scheduler (connection and handshake) before giving up.
SCHEDULER_TIMEOUT = 8.0
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_workers(workers: int | None) -> None:
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or workers < 1):
        raise ValueError(f"--workers must be an integer >= 1, got {workers!r}")


def _limit_threads() -> None:
    """Worker initializer: one BLAS/OpenMP thread, and one torch thread if torch is loaded."""
    for v in _THREAD_VARS:
        os.environ[v] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass


@contextlib.contextmanager
def _pinned():
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        if torch is not None and old is not None:
            torch.set_num_threads(old)


def pinned_call(func: Callable, kwargs: dict) -> tuple[Any, float]:
    """``(func(**kwargs), wall seconds)`` with one BLAS/OpenMP/torch thread (worker side)."""
    with _pinned():
        t0 = time.perf_counter()
        out = func(**kwargs)
        return out, time.perf_counter() - t0


@dataclass
class Backend:
    """An open executor: ``executor`` is ``None`` for serial execution in this process."""

    executor: cf.Executor | None
    name: str
    slots: int
    _close: Callable[..., None] = field(default=lambda **kw: None, repr=False)

    def close(self, abort: bool = False) -> None:
        """Release the workers; ``abort``: do not wait for running work (after an error or an
        interrupt), and drop the queued work."""
        self._close(abort=abort)

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(abort=exc_type is not None)


def _connect(address: str, timeout: float = SCHEDULER_TIMEOUT):
    """A ``dask.distributed.Client`` for ``address``, or ``ValueError`` within ``timeout`` s.

    The address is first probed with one Dask connection and handshake in a private event loop
    under a hard deadline (``asyncio.wait_for``): a listener that accepts the TCP connection but
    never speaks Dask would otherwise keep ``Client`` waiting forever, and a ``Client`` abandoned
    mid-handshake delays the interpreter's exit.
    """
    import asyncio

    try:
        from dask.distributed import Client
        from distributed.comm import connect
        from distributed.security import Security
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed: pip install "
                         "'icl-companion[dask]'") from None

    async def probe():
        # the security settings of dask's configuration (tls:// needs certificates there)
        kwargs = Security().get_connection_args("client")
        comm = await connect(address, timeout=max(timeout - 0.5, 0.5), **kwargs)
        await comm.close()

    def fail(why: str):
        return ValueError(f"cannot reach the dask scheduler at {address}: {' '.join(why.split())}")

    try:
        asyncio.run(asyncio.wait_for(probe(), timeout))
    except (asyncio.TimeoutError, TimeoutError):
        raise fail(f"no Dask handshake within {timeout:g} s (is it a Dask scheduler "
                   f"address?)") from None
    except Exception as e:  # refused, unresolvable, a scheme without its security settings
        if address.startswith("tls://") and isinstance(e, TypeError):
            raise fail("tls:// needs TLS certificates in dask's configuration "
                       "(distributed.comm.tls.ca-file, .client.cert, .client.key); none is "
                       "set") from None
        raise fail(f"{type(e).__name__}: {str(e)[:200]}") from None
    try:
        return Client(address, timeout=f"{timeout:g}s", set_as_default=False)
    except Exception as e:
        raise fail(f"{type(e).__name__}: {e}") from None


def _pool(workers: int) -> cf.Executor:
    # fork where the platform has it (workers inherit what this process registered at run time,
    # e.g. a result or figure defined in a notebook); every worker then pins its threads
    for v in _THREAD_VARS:
        os.environ.setdefault(v, "1")
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                  initializer=_limit_threads)


def open_backend(workers: int | None = None, scheduler: str | None = None,
                 n_tasks: int | None = None) -> Backend:
    """Open the executor for ``n_tasks`` units (capping local workers at that number).

    ``scheduler``: a Dask scheduler address (overrides ``workers``); ``workers=1`` (or a single
    task) runs serially in this process; otherwise a local process pool of ``workers`` processes
    (default: :func:`default_workers`).
    """
    check_workers(workers)
    if scheduler:
        client = _connect(scheduler)
        try:
            slots = max(1, sum(client.nthreads().values()))
        except Exception:  # an old scheduler: let Dask queue the work
            slots = 1 << 20
        return Backend(client.get_executor(), f"dask:{scheduler}", slots,
                       lambda abort=False: client.close())
    n = default_workers() if workers is None else workers
    if n_tasks is not None:
        n = max(1, min(n, n_tasks))
    if n == 1:
        return Backend(None, "serial", 1)
    ex = _pool(n)
    return Backend(ex, f"processes:{n}", n,
                   lambda abort=False: ex.shutdown(wait=not abort, cancel_futures=abort))
