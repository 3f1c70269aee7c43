"""Retry jitter spreads delays evenly around the backoff, both ways (seeded statistics).

A range check alone passes jitter that only ever waits longer; the mean and spread of
many draws do not.
"""

from __future__ import annotations

import random
import statistics

import pytest

from pipeline_kit.tasks import RetryPolicy

DRAWS = 20_000


@pytest.mark.parametrize("retry_number,base", [(1, 2.0), (3, 8.0)])
def test_jitter_is_centred_on_the_backoff_with_uniform_spread(retry_number, base):
    jitter = 0.25
    policy = RetryPolicy(backoff=2.0, factor=2.0, max_backoff=60.0, jitter=jitter)
    rng = random.Random(17)
    delays = [policy.delay(retry_number, rng) for _ in range(DRAWS)]
    # Uniform on [base(1 - j), base(1 + j)]: mean base, standard deviation base*j/sqrt(3).
    sd = base * jitter / 3 ** 0.5
    assert statistics.fmean(delays) == pytest.approx(base, abs=6 * sd / DRAWS ** 0.5)
    assert statistics.pstdev(delays) == pytest.approx(sd, rel=0.03)
    assert base * (1 - jitter) <= min(delays) < base * (1 - 0.95 * jitter)
    assert base * (1 + 0.95 * jitter) < max(delays) <= base * (1 + jitter)
    below = sum(d < base for d in delays) / DRAWS
    assert below == pytest.approx(0.5, abs=0.02)


def test_jitter_is_capped_with_the_backoff():
    policy = RetryPolicy(backoff=1.0, factor=10.0, max_backoff=5.0, jitter=0.2)
    rng = random.Random(3)
    delays = [policy.delay(6, rng) for _ in range(DRAWS)]
    assert statistics.fmean(delays) == pytest.approx(5.0, rel=0.01)
    assert 4.0 <= min(delays) and max(delays) <= 6.0


def test_no_jitter_means_the_exact_backoff():
    policy = RetryPolicy(backoff=0.5, factor=3.0, max_backoff=60.0, jitter=0.0)
    assert {policy.delay(2, random.Random(i)) for i in range(50)} == {1.5}
