"""Bulk jobs on several database connections at once.

The nightly jobs (reclassification, care planning) split the book into chunks of disjoint
customers, each written in a transaction of its own, so on PostgreSQL the chunks can run on
`settings.JOB_CONNECTIONS` connections at once: one thread per connection, the caller's thread
collecting the results (and drawing the progress bar). On SQLite (a single writer) and inside a
caller's transaction, whose rows other connections would not see, they run one after the other
on the caller's connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

from django.conf import settings
from django.db import connection, connections

T = TypeVar("T")
R = TypeVar("R")


def job_connections(tasks: int) -> int:
    """How many connections run ``tasks`` chunks at once (at least 1, at most one per chunk)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, min(int(settings.JOB_CONNECTIONS), tasks))


def _in_thread(fn: Callable[[T], R], item: T) -> R:
    try:
        return fn(item)
    finally:
        connections.close_all()  # this thread's connections, not the caller's


def run_each(fn: Callable[[T], R], items: Sequence[T], *, thread_name_prefix: str) -> Iterator[tuple[T, R]]:
    """Yield ``(item, fn(item))`` for every item: on `job_connections` connections at once, as
    the threads finish them, or in the caller's order on its own connection. When one fails, the
    items not started yet are dropped, the running ones finish, and the error is raised (what the
    finished ones committed stays)."""
    at_once = job_connections(len(items))
    if at_once == 1:
        for item in items:
            yield item, fn(item)
        return
    with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix=thread_name_prefix) as pool:
        futures = {pool.submit(_in_thread, fn, item): item for item in items}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()
