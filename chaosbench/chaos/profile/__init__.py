"""Chaos profiles: the YAML document, its validation, and the resolved profile the scheduler runs.

    profile = load_profile("profiles/default.yaml", seed=7, dry_run=None)

Every problem is a ProfileError (or AllowlistError) with one line: ``<path>: <field>: <problem>``.
"""

from chaosbench.chaos.profile.durations import Duration, format_duration, parse_duration
from chaosbench.chaos.profile.loader import (
    DEFAULT_PROFILE,
    PROFILES_DIR,
    build_profile,
    load_profile,
    parse_profile,
    resolve_profile_path,
    rotation_order,
)
from chaosbench.chaos.profile.model import FaultSpec, Phases, Profile, ProfileDoc, Route

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES_DIR",
    "Duration",
    "FaultSpec",
    "Phases",
    "Profile",
    "ProfileDoc",
    "Route",
    "build_profile",
    "format_duration",
    "load_profile",
    "parse_duration",
    "parse_profile",
    "resolve_profile_path",
    "rotation_order",
]
