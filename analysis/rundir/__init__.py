"""The run directory: writer, loader (``load(path) -> RunData``) and format version."""

from analysis.rundir.format import FORMAT_VERSION
from analysis.rundir.loader import UnfinishedRunWarning, load, read_meta
from analysis.rundir.writer import RunDirWriter

__all__ = ["FORMAT_VERSION", "RunDirWriter", "UnfinishedRunWarning", "load", "read_meta"]
