"""Loading and validating a profile completely, before any load starts."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaosbench import bundled
from chaosbench.chaos.faults import catalogue
from chaosbench.chaos.faults.base import Fault, FaultContext, FaultSettings
from chaosbench.chaos.profile.errors import did_you_mean, field_path, from_validation
from chaosbench.chaos.profile.model import (
    ENVELOPE_KEYS,
    FaultEnvelope,
    FaultSpec,
    Profile,
    ProfileDoc,
    split_address,
)
from chaosbench.chaos.safety.allowlist import Allowlist
from chaosbench.ground.errors import AllowlistError, ChaosbenchError, ProfileError
from chaosbench.ground.yamlload import (
    decode_utf8,
    load_yaml_text,
    one_line_error,
    read_config_bytes,
)

PROFILES_DIR = bundled.profiles_dir()
DEFAULT_PROFILE = bundled.default_profile()


def resolve_profile_path(value: str) -> Path:
    """A path as given, or a bundled profile by name (``market-maker``, ``market-maker.yaml``,
    ``profiles/market-maker.yaml`` when there is no such file here)."""
    return bundled.resolve_profile(value)


def load_profile(
    path: str | Path, *, seed: int | None = None, dry_run: bool | None = None
) -> Profile:
    """Read, parse and validate ``path``; ProfileError/AllowlistError with one line otherwise.

    ``seed`` and ``dry_run`` override the profile's own values (command-line options).
    """
    p = resolve_profile_path(str(path))
    source = str(path)
    text = decode_utf8(read_config_bytes(p, source, ProfileError), source, ProfileError)
    return parse_profile(text, source, seed=seed, dry_run=dry_run)


def parse_profile(
    text: str, source: str = "<string>", *, seed: int | None = None, dry_run: bool | None = None
) -> Profile:
    try:
        return _parse(text, source, seed, dry_run)
    except ChaosbenchError as exc:  # a key or value may hold a newline: one line, bounded
        raise one_line_error(exc) from None


def _parse(text: str, source: str, seed: int | None, dry_run: bool | None) -> Profile:
    data = load_yaml_text(text, source, ProfileError)
    if data is None or data == {}:
        raise ProfileError(
            f"{source}: empty profile (give at least phases and faults; see profiles/default.yaml)"
        )
    if not isinstance(data, dict):
        raise ProfileError(
            f"{source}: (top level): expected a mapping of keys, got a {type(data).__name__}"
        )
    return build_profile(data, source, seed=seed, dry_run=dry_run)


def build_profile(
    data: dict[str, Any],
    source: str = "<dict>",
    *,
    seed: int | None = None,
    dry_run: bool | None = None,
) -> Profile:
    try:
        doc = ProfileDoc.model_validate(data)
    except ValidationError as exc:
        raise from_validation(source, exc, ProfileDoc) from None
    allow = _allowlist(doc, source)
    _check_routes(doc, source, allow)
    run_seed = seed if seed is not None else doc.seed
    if run_seed is None:
        run_seed = random.SystemRandom().randrange(2**31)
    faults = _resolve_faults(doc, source, run_seed)
    _check_targets(faults, doc, source, allow)
    return Profile(
        source=source,
        doc=doc,
        seed=run_seed,
        dry_run=doc.dry_run if dry_run is None else dry_run,
        faults=tuple(faults),
        allowlist=allow,
    )


def _allowlist(doc: ProfileDoc, source: str) -> Allowlist:
    for i, entry in enumerate(doc.allow):
        try:
            Allowlist.parse([entry])
        except ValueError as exc:
            raise ProfileError(f"{source}: allow[{i}]: {exc}") from None
    return Allowlist.parse(doc.allow)


def _check_routes(doc: ProfileDoc, source: str, allow: Allowlist) -> None:
    seen: dict[tuple[str, int], str] = {}
    upstreams: dict[tuple[str, int], str] = {}
    for name, route in doc.proxy.routes.items():
        for attr in ("listen", "upstream"):
            value = getattr(route, attr)
            reason = allow.refusal(value)  # a name: every address it resolves to
            if reason is not None:
                raise AllowlistError(
                    f"{source}: proxy.routes.{name}.{attr}: {reason.removeprefix('target ')} "
                    f"(allow: {', '.join(allow.describe())})"
                )
        upstreams[_norm(route.upstream)] = f"proxy.routes.{name}.upstream"
    for name, route in doc.proxy.routes.items():
        here = f"proxy.routes.{name}.listen"
        key = _norm(route.listen)
        for other_key, other in seen.items():
            if other_key[1] == key[1] and (
                other_key[0] == key[0] or "0.0.0.0" in (other_key[0], key[0])
            ):
                raise ProfileError(
                    f"{source}: {here}: {route.listen} overlaps {other} (same listen port)"
                )
        if key in upstreams:
            raise ProfileError(
                f"{source}: {here}: {route.listen} is also {upstreams[key]} "
                "(a route would proxy to a proxy listener: a loop)"
            )
        seen[key] = here


def _norm(address: str) -> tuple[str, int]:
    host, port = split_address(address)
    host = host.lower()
    if host in ("localhost", "127.0.0.1"):
        host = "127.0.0.1"
    return host, port


def _resolve_faults(doc: ProfileDoc, source: str, seed: int) -> list[FaultSpec]:
    types = catalogue()
    routes = doc.proxy.routes
    phases = doc.phases
    entries: list[tuple[FaultEnvelope, FaultSettings, type[Fault[Any]]]] = []
    for i, raw in enumerate(doc.faults):
        where = f"faults[{i}]"
        ftype = raw.get("type")
        if not isinstance(ftype, str) or not ftype:
            raise ProfileError(f"{source}: {where}.type: missing fault type")
        cls = types.get(ftype)
        if cls is None:
            raise ProfileError(
                f"{source}: {where}.type: unknown fault type {ftype!r}{did_you_mean(ftype, types)}"
            )
        env_data = {k: v for k, v in raw.items() if k in ENVELOPE_KEYS}
        set_data = {k: v for k, v in raw.items() if k not in ENVELOPE_KEYS}
        try:
            env = FaultEnvelope.model_validate(env_data)
        except ValidationError as exc:
            raise from_validation(source, exc, FaultEnvelope, ("faults", i)) from None
        try:
            settings = cls.Settings.model_validate(set_data)
        except ValidationError as exc:
            raise from_validation(
                source, exc, cls.Settings, ("faults", i), extra_keys=ENVELOPE_KEYS
            ) from None
        _check_route(settings, cls, routes, source, where)
        entries.append((env, settings, cls))

    names: dict[str, int] = {}
    for i, (env, settings, _cls) in enumerate(entries):
        name = env.name or _default_name(env.type, settings)
        if name in names:
            hint = "" if env.name else " (set a distinct 'name')"
            raise ProfileError(
                f"{source}: faults[{i}].name: duplicate fault name {name!r}, "
                f"also faults[{names[name]}]{hint}"
            )
        names[name] = i

    plan = _burst_plan(doc, entries, names, source, seed)
    specs: list[FaultSpec] = []
    for (env, settings, cls), (name, i) in zip(entries, names.items(), strict=True):
        where = f"faults[{i}]"
        bursts = plan[name]
        ramp = env.intensity if isinstance(env.intensity, list) else [env.intensity] * len(bursts)
        if len(ramp) != len(bursts):
            raise ProfileError(
                f"{source}: {where}.intensity: a ramp of {len(ramp)} values needs the fault to "
                f"fire in {len(ramp)} bursts; it fires in {len(bursts)}"
            )
        if bursts and env.start >= phases.burst_on:
            raise ProfileError(
                f"{source}: {where}.start: {env.start:g}s is not inside the burst "
                f"(phases.burst_on: {phases.burst_on:g}s)"
            )
        duration = phases.burst_on - env.start if env.duration is None else env.duration
        if env.start + duration > phases.burst_on + 1e-9:
            raise ProfileError(
                f"{source}: {where}.duration: {duration:g}s from start {env.start:g}s ends "
                f"after the burst (phases.burst_on: {phases.burst_on:g}s)"
            )
        if duration <= 0 and bursts:
            raise ProfileError(f"{source}: {where}.duration: must be more than 0s")
        specs.append(
            FaultSpec(
                index=i,
                name=name,
                type=env.type,
                cls=cls,
                settings=settings,
                scenario=env.scenario or name,
                bursts=tuple(bursts),
                intensities=tuple(float(x) for x in ramp),
                start=env.start,
                duration=duration,
            )
        )
    return specs


def _default_name(ftype: str, settings: FaultSettings) -> str:
    for attr in ("route", "target"):
        value = getattr(settings, attr, None)
        if isinstance(value, str) and value:
            return f"{ftype}_{value}".replace(":", "_").replace("/", "_")
    return ftype


def _check_route(
    settings: FaultSettings,
    cls: type[Fault[Any]],
    routes: dict[str, Any],
    source: str,
    where: str,
) -> None:
    route = getattr(settings, "route", None)
    if not isinstance(route, str):
        return
    if route not in routes:
        known = ", ".join(sorted(routes)) or "none defined"
        raise ProfileError(
            f"{source}: {where}.route: no proxy route {route!r}{did_you_mean(route, routes)} "
            f"(proxy.routes: {known})"
        )
    wanted: tuple[str, ...] = getattr(cls, "protocols", ())
    protocol = routes[route].protocol
    if wanted and protocol not in wanted:
        raise ProfileError(
            f"{source}: {where}.route: fault type {cls.type_name!r} needs a route with protocol "
            f"{' or '.join(wanted)}; proxy.routes.{route}.protocol is {protocol!r}"
        )


def _burst_plan(
    doc: ProfileDoc,
    entries: list[tuple[FaultEnvelope, FaultSettings, type[Fault[Any]]]],
    names: dict[str, int],
    source: str,
    seed: int,
) -> dict[str, list[int]]:
    """Fault name -> the bursts it fires in (explicit ``bursts``, all, or by rotation)."""
    n = doc.phases.bursts
    plan: dict[str, list[int]] = {}
    if doc.rotation is None:
        for (env, _s, _c), name in zip(entries, names, strict=True):
            i = names[name]
            if env.bursts is None:
                plan[name] = list(range(1, n + 1))
                continue
            for j, b in enumerate(env.bursts):
                if not 1 <= b <= n:
                    raise ProfileError(
                        f"{source}: faults[{i}].bursts[{j}]: burst {b} does not exist "
                        f"(phases.bursts: {n})"
                    )
            plan[name] = sorted(set(env.bursts))
        return plan
    scenarios: list[str] = []
    members: dict[str, list[str]] = {}
    for (env, _s, _c), name in zip(entries, names, strict=True):
        if env.bursts is not None:
            raise ProfileError(
                f"{source}: faults[{names[name]}].bursts: not allowed with rotation "
                "(each burst fires the next scenario)"
            )
        scen = env.scenario or name
        if scen not in members:
            scenarios.append(scen)
            members[scen] = []
        members[scen].append(name)
        plan[name] = []
    for burst, scen in enumerate(rotation_order(scenarios, n, doc.rotation.order, seed), 1):
        for name in members[scen]:
            plan[name].append(burst)
    return plan


def rotation_order(scenarios: list[str], bursts: int, order: str, seed: int) -> list[str]:
    """The scenario of each burst: cycles through ``scenarios``; ``shuffle`` reshuffles each
    cycle with a generator seeded from the run's seed (same seed, same order)."""
    if not scenarios:
        return []
    rng = random.Random(f"chaosbench-rotation-{seed}")
    out: list[str] = []
    while len(out) < bursts:
        cycle = list(scenarios)
        if order == "shuffle":
            rng.shuffle(cycle)
        out.extend(cycle)
    return out[:bursts]


def _check_targets(faults: list[FaultSpec], doc: ProfileDoc, source: str, allow: Allowlist) -> None:
    routes = {n: (r.listen, r.upstream, str(r.protocol)) for n, r in doc.proxy.routes.items()}
    ctx = FaultContext(routes=routes)
    for spec in faults:
        fault = spec.cls(spec.name, spec.settings, ctx, 1.0)
        try:
            targets = fault.targets()
        except Exception as exc:  # a fault's own check of its settings
            raise ProfileError(f"{source}: {spec.where}: {exc}") from None
        for target in targets:  # effective targets (environment, service files applied)
            reason = allow.refusal(target)
            if reason is not None:
                raise AllowlistError(
                    f"{source}: {spec.where} ({spec.name}): {reason} "
                    f"(allow: {', '.join(allow.describe())})"
                )


__all__ = ["DEFAULT_PROFILE", "PROFILES_DIR", "field_path", "load_profile", "parse_profile"]
