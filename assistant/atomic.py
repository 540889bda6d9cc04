"""Replacing a folder of index files in one step, so a reader or a crash never meets half of a new one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def replace_directory(staging: Path, directory: Path) -> None:
    """Put the complete `staging` folder in place of `directory` (renames on one file system, then cleanup)."""
    old = directory.with_name(directory.name + ".old")
    if directory.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
    os.replace(staging, directory)
    shutil.rmtree(old, ignore_errors=True)
