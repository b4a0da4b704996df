"""How many uploads the service works on at once, and how many it lets wait: the rest are refused.

Decoding, detection and classification run in worker threads, at most `slots` uploads at a time
(anyio's CapacityLimiter, the same mechanism Starlette's thread pool uses), so peak memory is about
`slots` decodes however many clients send at once. Up to `max_queue` more uploads, already read,
wait for a slot; only when that queue is full is an upload refused, with 503 and a `Retry-After`
estimated from the recent time per upload. Nothing else (the page, /health) goes through the gate.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from .errors import ServiceBusy

T = TypeVar("T")


class DecodeGate:
    def __init__(self, slots: int, max_queue: int) -> None:
        self.slots = int(slots)
        self.max_queue = int(max_queue)
        self.limiter = anyio.CapacityLimiter(self.slots)
        self.in_flight = 0            # in a slot or waiting for one
        self.seconds_per_upload = 1.0  # moving average of the time one upload holds a slot
        self.refused = Counter()       # HTTP status -> refusals, for /health and the log

    @property
    def waiting(self) -> int:
        return max(0, self.in_flight - self.slots)

    def retry_after_s(self) -> int:
        """Seconds until the queue has room again, if uploads keep taking their recent time."""
        return max(1, math.ceil((self.waiting + 1) * self.seconds_per_upload / self.slots))

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a worker thread once a slot is free; ServiceBusy when the queue is full."""
        if self.in_flight >= self.slots + self.max_queue:
            raise ServiceBusy(f"busy: {self.slots} uploads in work and {self.waiting} waiting (serve.max_queue "
                              f"{self.max_queue}); retry in {self.retry_after_s()} s", self.retry_after_s())
        self.in_flight += 1
        try:
            async with self.limiter:
                start = time.perf_counter()
                try:
                    return await anyio.to_thread.run_sync(work, *args)
                finally:
                    took = time.perf_counter() - start
                    self.seconds_per_upload = 0.8 * self.seconds_per_upload + 0.2 * took
        finally:
            self.in_flight -= 1

    def state(self) -> dict[str, int]:
        return {"slots": self.slots, "in_work": min(self.in_flight, self.slots), "waiting": self.waiting,
                "max_queue": self.max_queue}
