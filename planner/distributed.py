"""Fan-out of independent solves (sweep points, Monte Carlo samples, countries) on Dask.

A local cluster is started when no scheduler is given (no set-up for the user); ``scheduler`` or the
environment variable ``PLANNER_DASK_SCHEDULER`` names an existing Dask scheduler (``tcp://host:8786``).
``scheduler="serial"`` runs in this process, in order: the reference the distributed result is checked against.
Results come back in the order of the inputs whatever the scheduler, so serial and distributed runs compare
row for row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

SCHEDULER_ENV = "PLANNER_DASK_SCHEDULER"
SERIAL = "serial"


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler to use: the argument, else ``$PLANNER_DASK_SCHEDULER``, else None (a local cluster)."""
    return scheduler or os.environ.get(SCHEDULER_ENV) or None


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` connected to ``scheduler`` when given, else to a new ``LocalCluster``.

    The local cluster runs processes, one thread each (HiGHS and Pyomo hold the GIL), and is closed on exit.
    """
    from distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    if address:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    workers = n_workers or max(1, min(os.cpu_count() or 1, 8))
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield client


def fan_out(
    fn: Callable[[T], R],
    items: Iterable[T],
    scheduler: str | None = None,
    client: Any | None = None,
) -> list[R]:
    """``[fn(item) for item in items]``, computed on Dask (or in this process when ``scheduler="serial"``).

    ``fn`` and the items must be picklable (module-level functions, plain data). Pass an open ``client`` to
    reuse one cluster across several fan-outs. An exception in a task is raised here, as in the serial loop.
    """
    todo: Sequence[T] = list(items)
    if scheduler == SERIAL:
        return [fn(item) for item in todo]
    if not todo:
        return []
    if client is not None:
        return _gather(client, fn, todo)
    with dask_client(scheduler) as own:
        return _gather(own, fn, todo)


def _gather(client: Any, fn: Callable[[T], R], todo: Sequence[T]) -> list[R]:
    futures = client.map(fn, todo, pure=False)
    return list(client.gather(futures))
