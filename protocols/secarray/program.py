"""``protocol = "program"``: a user's Python file run as a secure-array program by every party.

The file defines ``async def main(session, my_input)`` and may define
``def reference(inputs, options)`` (the plaintext answer from every party's input, used by
``[expect]`` when no output is written down). ``options.program`` names the file (a path
relative to the scenario file, or absolute; the scenario loader resolves it). Other options:
``value_bits`` (default 32), ``bits`` (``binary`` | ``arith``); all options are visible to the
program as ``session.options``. ``triples`` picks the
preprocessing: ``dealer`` (party 0 deals) or ``dn07`` (dealer-free, Shamir n ≥ 2t + 1).

The file is imported like any module: it runs with this party's privileges, so run only
programs you trust (the same as running any Python script).
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError, MpcError

from ..common import Scheme
from ..spec import Array, Job, PartyResult, Spec

if TYPE_CHECKING:  # the secure-array package is imported when a program job runs
    from .session import Session

_LOADED: dict[str, ModuleType] = {}


def load_program(path: str) -> ModuleType:
    """Import the program file once per process (keyed by its resolved path)."""
    p = Path(path).resolve()
    key = str(p)
    if key in _LOADED:
        return _LOADED[key]
    if not p.is_file():
        raise ConfigError(f"program file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"mpc_program_{len(_LOADED)}_{p.stem}", p)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load program {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "main", None)):
        raise ConfigError(f"program {path} defines no main(session, my_input)")
    _LOADED[key] = module
    return module


def program_path(job: Job) -> str:
    path = job.options.get("program")
    if not isinstance(path, str) or not path:
        raise ConfigError('protocol "program" needs program = "path/to/file.py"')
    return path


def _scheme(job: Job) -> Scheme:
    return Scheme.make(job.sharing, job.parties, job.threshold)


def session_for(ctx: Context, job: Job) -> Session:
    from .session import Session

    opts = job.options
    value_bits = opts.get("value_bits", 32)
    bits = opts.get("bits")
    if not isinstance(value_bits, int) or (bits is not None and not isinstance(bits, str)):
        raise ConfigError("options.value_bits must be an integer and options.bits a string")
    frac = job.fractional_bits if job.fractional_bits is not None else 16
    session = Session(ctx, _scheme(job), source=job.triples, bits=bits, value_bits=value_bits, frac_bits=frac,
                      input_parties=job.input_parties)
    session.options = dict(opts)
    return session


async def run_program(ctx: Context, job: Job, x: Array | None) -> PartyResult:
    from .prep import dealer_serve

    module = load_program(program_path(job))
    if ctx.party_id not in job.parties:
        return PartyResult(None, await dealer_serve(ctx, _scheme(job)))
    session = session_for(ctx, job)
    try:
        out = await module.main(session, x)
    except BaseException:
        with contextlib.suppress(MpcError):
            await session.close()  # the dealer stops waiting at once
        raise
    await session.close()
    meta: dict[str, Any] = {f"session_{k}": v for k, v in session.stats().items() if k != "preprocessing"}
    meta.update({f"pre_{k}": v for k, v in session.stats()["preprocessing"].items()})
    meta.update({k: v for k, v in session.meta.items() if isinstance(v, (int, float))})
    return PartyResult(None if out is None else np.asarray(out), meta)


def reference(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    module = load_program(program_path(job))
    ref = getattr(module, "reference", None)
    if ref is None:
        raise ConfigError("the program defines no reference(inputs, options): write [expect] output")
    return np.asarray(ref(dict(inputs), dict(job.options)))


def extra_parties(job: Job) -> tuple[int, ...]:
    from .prep import DEALER

    return (DEALER,) if job.triples == "dealer" else ()


SPEC = Spec("program", run_program, reference, extra_parties, options=None)

__all__ = ["SPEC", "load_program", "run_program", "session_for"]
