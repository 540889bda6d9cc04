"""An evidence assistant for employer engagement: answers grounded in, and cited to, research reports."""

from __future__ import annotations

__version__ = "0.1.0"
