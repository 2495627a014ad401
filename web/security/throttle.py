"""Failed logins slow an attacker down: after too many failures for one address, or from one client, the
login answers 429 with Retry-After until the window has passed.

Counted in the web process's memory: a restart forgives, and each replica behind a load balancer counts
its own failures (N replicas allow N times the attempts) — still a bound where there was none. scrypt
already makes each guess cost ~50 ms; this caps the number of guesses per window.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_SECONDS = 15 * 60
MAX_PER_ADDRESS = 5  # guessing one account's password
MAX_PER_CLIENT = 20  # trying a few common passwords against many accounts


@dataclass
class LoginThrottle:
    window: float = WINDOW_SECONDS
    max_per_address: int = MAX_PER_ADDRESS
    max_per_client: int = MAX_PER_CLIENT
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, address: str, client: str) -> int:
        """Seconds until ADDRESS may try again from CLIENT; 0 when a try is allowed now."""
        waits = [
            self._wait(f"address:{address}", self.max_per_address),
            self._wait(f"client:{client}", self.max_per_client),
        ]
        return max(waits)

    def failed(self, address: str, client: str) -> None:
        now = self.clock()
        for key in (f"address:{address}", f"client:{client}"):
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, address: str) -> None:
        # The owner got in: their earlier typos no longer count; the client's failures still do.
        self._failures.pop(f"address:{address}", None)

    def _wait(self, key: str, limit: int) -> int:
        attempts = self._failures.get(key)
        if not attempts:
            return 0
        cutoff = self.clock() - self.window
        while attempts and attempts[0] <= cutoff:
            attempts.popleft()
        if not attempts:
            del self._failures[key]  # bounded memory: keys live only while they have recent failures
            return 0
        if len(attempts) < limit:
            return 0
        return max(1, math.ceil(attempts[-limit] + self.window - self.clock()))
