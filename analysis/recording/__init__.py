"""Phase-tagged recording: requests become per-second HDR windows per (type, name, phase)."""

from analysis.recording.recorder import Recorder
from analysis.recording.window import ClosedWindow, WindowAccumulator

__all__ = ["ClosedWindow", "Recorder", "WindowAccumulator"]
