"""The base of every settings model a profile fills in (a fault's own settings, a toxic's
profile settings): unknown keys are errors and a validated model is never changed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProfileSettings(BaseModel):
    """Settings read from a profile: ``extra="forbid"`` (a typo is an error), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
