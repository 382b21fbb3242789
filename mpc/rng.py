"""The only module that reads entropy.

:class:`Csprng` is an AES-256-CTR keystream (from ``cryptography``) turned into numpy arrays.
Keyed from ``os.urandom`` it protects secrets; keyed with a caller's key it is a deterministic,
full-entropy PRG (mask expansion in secure aggregation, pseudo-random secret sharing).
numpy's PCG64 and :mod:`random` are never used for anything secret.

Fork safety: a forked child would otherwise continue its parent's keystream, so two processes
would draw the same "fresh" randomness. Every OS-keyed generator is rekeyed from ``os.urandom`` in
the child (``os.register_at_fork``, installed when the first one is made, not at import).
Caller-keyed generators are deterministic by contract and are left alone.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from numpy.typing import NDArray

_ZEROS = bytes(1 << 20)
_ZERO_VIEW = memoryview(_ZEROS)
_OS_KEYED: weakref.WeakSet[Csprng] = weakref.WeakSet()
_fork_hook_installed = False


def _rekey_after_fork() -> None:
    for rng in list(_OS_KEYED):
        rng._enc = _cipher(os.urandom(32), bytes(16))


def _cipher(key: bytes, nonce: bytes) -> CipherContext:
    return Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()


class Csprng:
    """AES-256-CTR keystream as a source of uniform integers.

    ``Csprng()`` draws a fresh 32-byte key from the OS; ``Csprng(key)`` expands a given key
    (and optional 16-byte ``nonce``) deterministically.
    """

    __slots__ = ("_enc", "__weakref__")

    def __init__(self, key: bytes | None = None, nonce: bytes = bytes(16)) -> None:
        os_keyed = key is None
        if key is None:
            key = os.urandom(32)
        if len(key) != 32 or len(nonce) != 16:
            raise ValueError("Csprng needs a 32-byte key and a 16-byte nonce")
        self._enc = _cipher(key, nonce)
        if os_keyed:
            global _fork_hook_installed
            if not _fork_hook_installed:
                os.register_at_fork(after_in_child=_rekey_after_fork)
                _fork_hook_installed = True
            _OS_KEYED.add(self)

    def random_bytes(self, n: int) -> bytes:
        if n <= len(_ZEROS):
            return self._enc.update(_ZEROS[:n])
        return self._enc.update(bytes(n))

    def fill(self, out: NDArray[Any]) -> NDArray[Any]:
        """Overwrite the bytes of ``out`` (C-contiguous) with the next keystream bytes, in place:
        no allocation, the same bytes :meth:`random_bytes` would have returned."""
        if not out.flags.c_contiguous:
            raise ValueError("Csprng.fill needs a C-contiguous array")
        view = out.reshape(-1).view(np.uint8).data
        for pos in range(0, view.nbytes, len(_ZEROS)):
            k = min(len(_ZEROS), view.nbytes - pos)
            self._enc.update_into(_ZERO_VIEW[:k], view[pos : pos + k])
        return out

    def uint64(self, shape: int | tuple[int, ...]) -> NDArray[np.uint64]:
        return self.fill(np.empty(shape, dtype=np.uint64))

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
