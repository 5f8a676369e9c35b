"""Seeds: the documented, stable ``derive`` function and the prod seed source.

``derive(seed, index, domain)`` is the first 8 bytes of
``SHA-256(f"omega-v2/{domain}/{seed}/{index}")`` read as a big-endian integer, shifted
right by one bit, so the result is an integer in ``[0, 2**63)`` (the engine's range for
``rng_seed``). It depends on nothing but its arguments: not on the platform, the
Python version or ``PYTHONHASHSEED``.

OPTIMIZER §3: trial ``n`` of a dev study gets ``derive(study.seed, n)`` (domain
``"trial"``); the sampler of batch ``b`` is seeded with ``sampler_seed(study.seed, b)``.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["MAX_SEED", "derive", "prod_seed", "sampler_seed"]

#: Seeds are integers in ``[0, MAX_SEED)``.
MAX_SEED = 2**63


def derive(seed: int, index: int, domain: str = "trial") -> int:
    """Returns the seed in ``[0, 2**63)`` derived from ``seed`` for ``index`` in ``domain``."""
    digest = hashlib.sha256(f"omega-v2/{domain}/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def sampler_seed(seed: int, batch: int) -> int:
    """Returns the sampler seed of batch ``batch``: ``derive(seed, batch, "sampler") % 2**32``.

    Optuna's samplers seed NumPy generators, which take 32-bit seeds.
    """
    return derive(seed, batch, "sampler") % 2**32


def prod_seed() -> int:
    """Returns a fresh seed in ``[0, 2**63)`` from the OS random source (OPTIMIZER §3, prod)."""
    return secrets.randbits(63)
