"""A fair pool of checking threads for the server: a long batch cannot hold up a short check.

The threads share the one loaded checker (its model and patterns are read-only while checking; torch releases the
GIL while it encodes, so two threads use two cores). Each request's statements are cut into pieces of at most
PIECE statements. Requests of one piece (a one-line check) wait in a lane of their own, ahead of batches; the
pieces of batches are taken in turn, round robin, and every SHORT_BURST short pieces a batch gets a piece even
when short checks keep coming, so neither kind starves. A one-line check that arrives while 100-statement
batches run waits for the pieces already running (one per thread), not for the batches.

The queue is bounded, per lane: when more than MAX_QUEUED statements of batches wait, a batch is refused at once
with `PoolBusy` (the API answers 429 with `Retry-After`), instead of waiting without limit while memory grows; one-line
checks have a cap of their own (MAX_QUEUED_SHORT statements), so queued batches never refuse a one-line check.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections import deque
from collections.abc import Callable

PIECE = 8  # statements per unit of work: one encode each, short enough that a waiting check is soon served
MAX_QUEUED = 400  # statements of batches waiting (four full batches): beyond this a batch is refused with 429
MAX_QUEUED_SHORT = 200  # statements of one-piece requests waiting: a lane of its own, so batches never fill it
SHORT_BURST = 4  # short pieces taken in a row, at most, while a batch waits


def default_workers() -> int:
    """One thread per core, at most four: a check is CPU-bound, so more threads than cores only add waiting."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores))


class PoolBusy(Exception):
    """Too many statements are waiting; `retry_after` is an estimate, in seconds, of when there is room."""

    def __init__(self, queued: int, retry_after: int):
        super().__init__(f"the server is busy checking {queued} statements; try again in {retry_after} s")
        self.queued, self.retry_after = queued, retry_after


class _Request:
    def __init__(self, work: Callable, pieces: list, loop):
        self.work, self.pieces, self.loop = work, pieces, loop
        self.short = len(pieces) == 1  # one piece: a one-line check (or a handful), served in the short lane
        self.futures = [loop.create_future() for _ in pieces]
        self.next = 0

    @property
    def abandoned(self) -> bool:  # the client went away: its remaining pieces are not worth checking
        return any(f.cancelled() for f in self.futures)


class FairPool:
    def __init__(self, workers: int | None = None, piece: int = PIECE, max_queued: int = MAX_QUEUED,
                 max_queued_short: int = MAX_QUEUED_SHORT):
        self.workers, self.piece = workers or default_workers(), piece
        self.max_queued, self.max_queued_short = max_queued, max_queued_short
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._short: deque[_Request] = deque()  # requests of one piece
        self._long: deque[_Request] = deque()  # batches, served round robin
        self._short_streak = 0
        self._waiting = {True: 0, False: 0}  # statements not yet finished, per lane (short: True, batches: False)
        self._seconds_per_statement = 0.05  # a running estimate, for Retry-After
        self._threads: list[threading.Thread] = []
        self.pieces_done = 0  # for tests and benchmarks: work counted, not timed

    async def run(self, work: Callable[[list], list], items: list) -> list:
        """work(piece) for consecutive pieces of `items`, run on the pool; the results in order. PoolBusy when full."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        request = _Request(work, [items[i:i + self.piece] for i in range(0, len(items), self.piece)], loop)
        with self._ready:
            waiting, cap = self._waiting[request.short], self.max_queued_short if request.short else self.max_queued
            if waiting and waiting + len(items) > cap:
                raise PoolBusy(waiting, self._retry_after())
            self._start_threads()
            self._waiting[request.short] += len(items)
            (self._short if request.short else self._long).append(request)
            self._ready.notify()
        try:
            done = await asyncio.gather(*request.futures)
        except asyncio.CancelledError:
            for future in request.futures:
                future.cancel()
            raise
        return [result for piece in done for result in piece]

    @property
    def queued(self) -> int:
        """Statements not yet finished, in both lanes."""
        return sum(self._waiting.values())

    def _retry_after(self) -> int:
        return max(1, math.ceil(self.queued * self._seconds_per_statement / self.workers))

    def _start_threads(self):
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._serve, name=f"caveat-check-{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _take(self) -> tuple[_Request, int]:
        """The next piece: a short request's, unless SHORT_BURST of those ran in a row while a batch waited; a batch
        with pieces left goes to the back of its line."""
        with self._ready:
            while True:
                while not (self._short or self._long):
                    self._ready.wait()
                short = bool(self._short) and (not self._long or self._short_streak < SHORT_BURST)
                self._short_streak = self._short_streak + 1 if short else 0
                line = self._short if short else self._long
                request = line.popleft()
                index = request.next
                request.next += 1
                if request.abandoned:
                    self._waiting[request.short] -= sum(len(p) for p in request.pieces[index:])
                    continue
                if request.next < len(request.pieces):
                    line.append(request)
                return request, index

    def _serve(self):
        import time

        while True:
            request, index = self._take()
            piece, future = request.pieces[index], request.futures[index]
            start = time.perf_counter()
            try:
                outcome, failed = request.work(piece), None
            except Exception as exc:  # noqa: BLE001 - handed to the request that asked, not lost in a thread
                outcome, failed = None, exc
            seconds = time.perf_counter() - start
            with self._lock:
                self._waiting[request.short] -= len(piece)
                self.pieces_done += 1
                self._seconds_per_statement = 0.8 * self._seconds_per_statement + 0.2 * seconds / len(piece)
            request.loop.call_soon_threadsafe(_settle, future, outcome, failed)


def _settle(future, outcome, failed):
    if future.done():  # cancelled: the client went away
        return
    if failed is not None:
        future.set_exception(failed)
    else:
        future.set_result(outcome)
