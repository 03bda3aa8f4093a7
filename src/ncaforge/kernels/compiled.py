"""Small C++ extensions built once per machine with torch's cpp_extension (for this CPU: -march=native).

Where no C++ compiler or ninja is found, or the build fails, callers get None and keep to their
pure-Python path.
"""

from __future__ import annotations

import functools
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType

import torch


@functools.cache
def compiled(name: str, source: Path, what: str, openmp: bool = False) -> ModuleType | None:
    """The extension ``name`` built from ``source`` (on first use, then loaded from torch's extension
    cache), or None where it cannot be built; ``what`` names it in messages."""
    if shutil.which("c++") is None or shutil.which("ninja") is None:
        return None
    from torch.utils.cpp_extension import get_default_build_root, load

    build = Path(get_default_build_root()) / f"{name}-torch{torch.__version__}"
    build.mkdir(parents=True, exist_ok=True)
    if not any(build.glob("*.so")):
        print(f"ncaforge: compiling {what} (once per machine, about a minute)", file=sys.stderr, flush=True)
    flags = ["-O3", "-march=native", *(["-fopenmp"] if openmp else [])]
    try:
        return load(name, [str(source)], build_directory=str(build), extra_cflags=flags,
                    extra_ldflags=["-fopenmp"] if openmp else [])
    except Exception as error:  # a broken toolchain: fall back rather than fail every caller
        warnings.warn(f"{what} could not be built ({error}); using the slower path", stacklevel=2)
        return None
