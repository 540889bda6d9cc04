"""How long a run's embedding will take, said before it starts, at the rate the last ingest measured."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from assistant.config import Settings

# Passages per second when no ingest of this index has measured it: MiniLM int8 on two busy cores.
TYPICAL_RATE = 12.0
# Cleaned characters per passage on the five reports (230-token chunks with one sentence of overlap):
# how many passages a text will make, before it is cut (a file far over the limit is refused unchunked).
CHARS_PER_CHUNK = 1100


@dataclass(frozen=True)
class Estimate:
    """How much embedding a run has ahead of it, said before it starts."""

    chunks: int  # passages to embed (new or changed text)
    rate: float  # passages per second
    measured: bool  # the rate was measured by an earlier ingest of this index (else a typical one)

    @property
    def seconds(self) -> float:
        return self.chunks / self.rate if self.rate > 0 else 0.0

    def describe(self) -> str:
        how = "the rate measured by the last ingest" if self.measured else "a typical rate on two cores"
        time_ = _duration(self.seconds)
        return f"{self.chunks:,} passages to embed: about {time_} at {self.rate:.0f} passages/s ({how})."


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def measured_rate(settings: Settings) -> float | None:
    """Passages embedded per second by the last ingest of this index that embedded enough to tell."""
    try:
        rate = float(json.loads((settings.state_dir / "rate.json").read_text(encoding="utf-8"))["chunks_per_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rate if rate > 0 else None


def save_rate(settings: Settings, chunks: int, seconds: float) -> None:
    """Record the rate this run embedded at, for the next estimate (written atomically)."""
    if chunks < 32 or seconds <= 0:  # a few passages measure the model's start, not its rate
        return
    target = settings.state_dir / "rate.json"
    partial = target.with_name(".rate.json.partial")
    try:
        partial.write_text(json.dumps({"chunks_per_s": chunks / seconds, "chunks": chunks}), encoding="utf-8")
        os.replace(partial, target)
    except OSError:
        pass  # only the next estimate is less exact


def estimate_for(settings: Settings, chunks: int) -> Estimate:
    """The time `chunks` passages take to embed, at this index's measured rate (or a typical one)."""
    rate = measured_rate(settings)
    return Estimate(chunks, rate or TYPICAL_RATE, rate is not None)


def too_many(path: Path, settings: Settings, chunks: int, limit: int, *, about: bool) -> str:
    """Why a file is refused for its size, with the numbers, and what to do instead."""
    estimate = estimate_for(settings, chunks)
    count = f"about {chunks:,}" if about else f"{chunks:,}"
    return (
        f"{path.name}: makes {count} passages, about {_duration(estimate.seconds)} of indexing at "
        f"{estimate.rate:.0f} passages/s; uploads are limited to {limit:,} passages "
        "(ASSISTANT_MAX_UPLOAD_CHUNKS). Split the report, or add it to the corpus folder and run "
        "`assistant ingest`, which shows its progress."
    )
