"""The only module that reads entropy.

:class:`Csprng` is an AES-256-CTR keystream (from ``cryptography``) turned into numpy arrays.
Keyed from ``os.urandom`` it protects secrets; keyed with a caller's key it is a deterministic,
full-entropy PRG (mask expansion in secure aggregation, pseudo-random secret sharing).
numpy's PCG64 and :mod:`random` are never used for anything secret.
"""

from __future__ import annotations

import os

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numpy.typing import NDArray

_ZEROS = bytes(1 << 20)


class Csprng:
    """AES-256-CTR keystream as a source of uniform integers.

    ``Csprng()`` draws a fresh 32-byte key from the OS; ``Csprng(key)`` expands a given key
    (and optional 16-byte ``nonce``) deterministically.
    """

    __slots__ = ("_enc",)

    def __init__(self, key: bytes | None = None, nonce: bytes = bytes(16)) -> None:
        if key is None:
            key = os.urandom(32)
        if len(key) != 32 or len(nonce) != 16:
            raise ValueError("Csprng needs a 32-byte key and a 16-byte nonce")
        self._enc = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()

    def random_bytes(self, n: int) -> bytes:
        if n <= len(_ZEROS):
            return self._enc.update(_ZEROS[:n])
        return self._enc.update(bytes(n))

    def uint64(self, shape: int | tuple[int, ...]) -> NDArray[np.uint64]:
        count = int(np.prod(shape))
        return np.frombuffer(self.random_bytes(8 * count), dtype=np.uint64).reshape(shape).copy()

    def field_elements(self, shape: int | tuple[int, ...], bits: int, modulus: int) -> NDArray[np.uint64]:
        """Uniform integers in [0, modulus) by masking to ``bits`` and rejecting the overflow."""
        mask = np.uint64((1 << bits) - 1)
        out = self.uint64(shape)
        out &= mask
        bad = out >= np.uint64(modulus)
        while bad.any():  # probability ~2^-61 per element for the Mersenne prime
            out[bad] = self.uint64(int(bad.sum())) & mask
            bad = out >= np.uint64(modulus)
        return out

    def below(self, bound: int) -> int:
        """One uniform Python int in [0, bound) (for small public choices, not hot paths)."""
        if bound <= 0:
            raise ValueError("bound must be positive")
        nbytes = (bound.bit_length() + 7) // 8 + 8  # 64 extra bits make the modulo bias negligible
        return int.from_bytes(self.random_bytes(nbytes), "little") % bound


__all__ = ["Csprng"]
