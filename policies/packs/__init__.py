"""The shipped guideline packs: one YAML file per pack, package data.

A pack file::

    pack: privacy
    description: ...
    params:            # defaults; policies.yaml may override each one
      public_reply: "..."
    rules: [...]       # RuleSpec mappings; "${name}" stands for a parameter

A string that is exactly ``${name}`` takes the parameter's value (any type); ``${name}``
inside a longer string is replaced by its text.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from helpforce.policy import PolicyError, RuleSpec

_PARAM = re.compile(r"\$\{([a-z_][a-z0-9_]*)\}")
#: every pack accepts these besides its own parameters
COMMON_PARAMS = ("disable",)


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    params: Mapping[str, Any]
    raw_rules: tuple[Mapping[str, Any], ...]

    def rules(self, params: Mapping[str, Any]) -> list[RuleSpec]:
        unknown = sorted(set(params) - set(self.params) - set(COMMON_PARAMS))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise PolicyError(
                f"pack {self.name!r} has no parameter {unknown[0]!r} (parameters: {known}, "
                "disable)",
                (unknown[0],),
            )
        values = {**self.params, **params}
        disabled = set(values.get("disable") or ())
        ids = {str(r.get("id")) for r in self.raw_rules}
        if disabled - ids:
            raise PolicyError(
                f"pack {self.name!r} has no rule {sorted(disabled - ids)[0]!r} to disable",
                ("disable",),
            )
        out = []
        for raw in self.raw_rules:
            if raw.get("id") in disabled:
                continue
            try:
                out.append(RuleSpec.model_validate(_substitute(raw, values)))
            except ValidationError as exc:
                raise PolicyError(f"pack {self.name!r} rule {raw.get('id')!r}: {exc}") from None
        return out


def _substitute(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PARAM.fullmatch(value)
        if whole:
            return params[whole.group(1)]
        return _PARAM.sub(lambda m: str(params[m.group(1)]), value)
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, params) for k, v in value.items()}
    return value


def available_packs() -> list[str]:
    files = importlib.resources.files(__name__)
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


_CACHE: dict[str, Pack] = {}


def load_pack(name: str) -> Pack:
    if name in _CACHE:
        return _CACHE[name]
    if name not in available_packs():
        raise PolicyError(
            f"unknown policy pack {name!r} (known: {', '.join(available_packs())})"
        )
    text = importlib.resources.files(__name__).joinpath(f"{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    pack = Pack(
        name=data["pack"],
        description=data.get("description", ""),
        params=data.get("params") or {},
        raw_rules=tuple(data.get("rules") or ()),
    )
    _CACHE[name] = pack
    return pack
