"""Phase-tagged recording: requests become per-second HDR windows per (type, name, phase)."""

from chaosbench.analysis.recording.recorder import Recorder
from chaosbench.analysis.recording.window import ClosedWindow, WindowAccumulator

__all__ = ["ClosedWindow", "Recorder", "WindowAccumulator"]
