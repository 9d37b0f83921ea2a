"""The run directory: writer, loader (``load(path) -> RunData``) and format version."""

from chaosbench.analysis.rundir.format import FORMAT_VERSION
from chaosbench.analysis.rundir.loader import UnfinishedRunWarning, load, read_meta
from chaosbench.analysis.rundir.writer import RunDirWriter

__all__ = ["FORMAT_VERSION", "RunDirWriter", "UnfinishedRunWarning", "load", "read_meta"]
