"""The reference system's own errors (it imports nothing of the harness).

SutError        base: a one-line message
└── OptionError a command-line flag or environment variable is wrong
"""

from __future__ import annotations


class SutError(Exception):
    """Base class; ``str(err)`` is the one-line message shown to the operator."""


class OptionError(SutError):
    pass
