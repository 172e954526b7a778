"""Load and check a configuration directory: helpforce.yaml, roster.yaml, policies.yaml.

Every problem in every file is collected and reported as ``FILE:LINE:COL: FIELD: message``;
the file is shown as it was reached from ``config_dir`` (relative stays relative).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from helpforce.config.routing import RoutingSettings
from helpforce.config.schema import (
    HelpforceSettings,
    PlatformSettings,
    PolicySettings,
    Problem,
    Roster,
    UserIdValidator,
    problems_from_errors,
)
from helpforce.config.yamlpos import (
    ConfigError,
    ConfigErrors,
    Positions,
    load_yaml_file,
    render_path,
)

SETTINGS_FILE = "helpforce.yaml"
ROSTER_FILE = "roster.yaml"
POLICIES_FILE = "policies.yaml"
ROUTING_FILE = "routing.yaml"
FILES: tuple[str, ...] = (SETTINGS_FILE, ROSTER_FILE, POLICIES_FILE, ROUTING_FILE)
#: files that may be absent (their defaults apply)
OPTIONAL_FILES = frozenset({ROUTING_FILE})
_MODELS: dict[str, type[BaseModel]] = {
    SETTINGS_FILE: HelpforceSettings,
    ROSTER_FILE: Roster,
    POLICIES_FILE: PolicySettings,
    ROUTING_FILE: RoutingSettings,
}


@dataclass(frozen=True, slots=True)
class Config:
    """One validated deployment."""

    settings: HelpforceSettings
    roster: Roster
    policies: PolicySettings
    config_dir: Path
    #: sha256 over the files' bytes: tells whether a reload changed anything
    files_hash: str
    routing: RoutingSettings = RoutingSettings()

    def enabled_platforms(self) -> dict[str, PlatformSettings]:
        return self.settings.enabled_platforms()


_PLACEHOLDERS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "replace-me",
        "replaceme",
        "replace_me",
        "your-token-here",
        "your_token_here",
        "todo",
        "token",
        "secret",
        "...",
        "…",
    }
)
_PLACEHOLDER_PATTERNS = (
    re.compile(r"x+"),  # xxx, XXXXXXXX
    re.compile(r"<.*>"),  # <token>, <your bot token>
    re.compile(r"your[-_ ].*[-_ ]here"),  # your-bot-token-here
)


def is_placeholder(value: str) -> bool:
    """True for values left over from an example (``changeme``, ``<token>``, ``xxx``...)."""
    v = value.strip().lower()
    return v in _PLACEHOLDERS or any(p.fullmatch(v) for p in _PLACEHOLDER_PATTERNS)


def _secret_problems(settings: HelpforceSettings, env: Mapping[str, str]) -> list[Problem]:
    """Each enabled platform's ``*_env`` variables must hold a real value (never shown)."""
    problems: list[Problem] = []
    for name, platform in settings.enabled_platforms().items():
        for field_name, var in platform.env_fields().items():
            value = env.get(var)
            if value is None:
                why = "is not set"
            elif not value.strip():
                why = "is empty"
            elif is_placeholder(value):
                why = "holds a placeholder, not a real secret"
            else:
                continue
            problems.append(
                Problem(
                    ("platforms", name, field_name),
                    f"environment variable {var} {why} (platform {name} is enabled)",
                )
            )
    return problems


def _policy_problems(policies: PolicySettings) -> list[Problem]:
    """Each pack must exist and accept its parameters; the managers' rules must be valid and
    compile (unknown detectors, bad or catastrophically slow patterns)."""
    from helpforce.policy import PolicyError, load_engine, rule_problems

    problems: list[Problem] = []
    for name, params in policies.packs.items():
        try:
            load_engine({name: params})
        except PolicyError as exc:
            loc = exc.loc if exc.loc else ("packs", name)
            problems.append(Problem(tuple(loc), str(exc), at_key=len(loc) <= 2))
        except (ValueError, TypeError) as exc:
            problems.append(Problem(("packs", name), str(exc), at_key=True))
    for error in rule_problems(policies.rules):
        problems.append(Problem(tuple(error.loc), str(error), exact=False))
    return problems


def located(problem: Problem, positions: Positions, file: str) -> ConfigError:
    """A problem at its FILE:LINE:COL in ``file`` (also used for simulator scenarios)."""
    if problem.exact:
        shown = problem.loc
        line, col = positions.locate(shown, problem.at_key)
    else:
        # pydantic locations may hold union members etc.: keep what exists in the file
        known = positions.known_prefix(problem.loc)
        shown = known
        if problem.missing and len(problem.loc) > len(known):
            shown = (*known, problem.loc[-1])
        line, col = positions.locate(known, problem.at_key and known == problem.loc)
    return ConfigError(file, line, col, render_path(shown), problem.message)


def _validate(
    config_dir: Path, name: str, context: dict[str, Any], errors: list[ConfigError]
) -> tuple[BaseModel | None, Positions, bytes]:
    shown = str(config_dir / name)
    if name in OPTIONAL_FILES and not (config_dir / name).exists():
        return _MODELS[name].model_validate({}, context=context), Positions(), b""
    doc = load_yaml_file(config_dir / name, shown)
    errors.extend(doc.errors)
    if doc.data is None and doc.errors:
        return None, doc.positions, doc.source
    try:
        model = _MODELS[name].model_validate({} if doc.data is None else doc.data, context=context)
    except ValidationError as exc:
        problems = problems_from_errors(exc.errors())
        errors.extend(located(p, doc.positions, shown) for p in problems)
        return None, doc.positions, doc.source
    return model, doc.positions, doc.source


def load_config(
    config_dir: Path,
    env: Mapping[str, str] | None = None,
    factories: Mapping[str, UserIdValidator] | None = None,
) -> Config:
    """Read, validate and cross-check the three files in ``config_dir``.

    ``env`` (default ``os.environ``) supplies the secrets named by ``*_env`` settings;
    ``factories`` (default: the installed adapters) decides which platforms exist.
    Raises :class:`ConfigErrors` listing every problem found.
    """
    config_dir = Path(config_dir)
    if factories is None:
        from helpforce.adapter import discover_factories

        factories = discover_factories()
    context: dict[str, Any] = {"factories": factories}
    errors: list[ConfigError] = []
    models: dict[str, BaseModel | None] = {}
    digest = hashlib.sha256()
    for name in FILES:
        per_file: list[ConfigError] = []
        model, positions, raw = _validate(config_dir, name, context, per_file)
        if isinstance(model, HelpforceSettings):
            shown = str(config_dir / name)
            secrets = _secret_problems(model, os.environ if env is None else env)
            per_file.extend(located(p, positions, shown) for p in secrets)
        if isinstance(model, PolicySettings):
            shown = str(config_dir / name)
            per_file.extend(located(p, positions, shown) for p in _policy_problems(model))
        errors.extend(sorted(per_file, key=lambda e: (e.line, e.col)))
        models[name] = model
        digest.update(f"{name}\0{len(raw)}\0".encode())
        digest.update(raw)
    if errors:
        raise ConfigErrors(errors)
    settings, roster, policies, routing = (models[n] for n in FILES)
    assert isinstance(settings, HelpforceSettings)
    assert isinstance(roster, Roster)
    assert isinstance(policies, PolicySettings)
    assert isinstance(routing, RoutingSettings)
    _cross_check(settings, set(factories), routing, config_dir, errors)
    if errors:
        raise ConfigErrors(errors)
    return Config(settings, roster, policies, config_dir, digest.hexdigest(), routing)


def _cross_check(
    settings: HelpforceSettings,
    installed: set[str],
    routing: RoutingSettings,
    config_dir: Path,
    errors: list[ConfigError],
) -> None:
    """Platforms routing.yaml names must be installed or configured."""
    shown = str(config_dir / ROUTING_FILE)
    doc = load_yaml_file(config_dir / ROUTING_FILE, shown) if (
        config_dir / ROUTING_FILE
    ).exists() else None
    positions = doc.positions if doc is not None else Positions()
    problems: list[Problem] = []
    known = installed | set(settings.platforms)
    for i, ch in enumerate(routing.channels):
        if ch.platform not in known:
            problems.append(Problem(("channels", i, "platform"),
                                    f"unknown platform '{ch.platform}'"))
    for i, route in enumerate(routing.routes):
        for j, p in enumerate(route.match.platforms):
            if p not in known:
                problems.append(Problem(("routes", i, "match", "platforms", j),
                                        f"unknown platform '{p}'"))
    errors.extend(located(p, positions, shown) for p in problems)


def check_config(
    config_dir: Path,
    env: Mapping[str, str] | None = None,
    factories: Mapping[str, UserIdValidator] | None = None,
) -> list[ConfigError]:
    """Every problem :func:`load_config` would raise, or an empty list."""
    try:
        load_config(config_dir, env, factories)
    except ConfigErrors as exc:
        return exc.errors
    return []
