"""The configuration layer: example config, exact FILE:LINE:COL errors, frozen objects."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from helpforce.config import (
    Config,
    ConfigError,
    ConfigErrors,
    PlatformSettings,
    check_config,
    default_config_dir,
    is_placeholder,
    load_config,
    parse_duration,
)
from helpforce.config.schema import NOT_AN_ENV_NAME
from helpforce.models import Role

EXAMPLE = Path(__file__).resolve().parent.parent / "config"

# --- fake adapter factories (the real local adapter lives in adapters/local) --------------


class LocalSettings(PlatformSettings):
    public_channels: list[str] = ["help"]
    spool: str | None = None


class FakeLocalFactory:
    platform = "local"
    settings_model = LocalSettings

    def create(self, settings: Any, *, clock: Any, env: dict[str, str]) -> Any:
        raise NotImplementedError

    def validate_user_id(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a non-empty user name, got {value!r}")
        return value


class TelegramSettings(PlatformSettings):
    token_env: str = "HELPFORCE_TELEGRAM_TOKEN"
    base_url: str | None = None


class FakeTelegramFactory:
    platform = "telegram"
    settings_model = TelegramSettings

    def create(self, settings: Any, *, clock: Any, env: dict[str, str]) -> Any:
        raise NotImplementedError

    def validate_user_id(self, value: Any) -> str:
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and value.isdigit())
        ):
            raise ValueError(f"expected a numeric user id, got {value!r}")
        return str(value)


FACTORIES: dict[str, Any] = {"local": FakeLocalFactory(), "telegram": FakeTelegramFactory()}
TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
ENV = {"HELPFORCE_TELEGRAM_TOKEN": TOKEN}

# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example config at ./config (relative), in a scratch directory."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(EXAMPLE, tmp_path / "config", ignore=shutil.ignore_patterns("*.py", "__*"))
    return Path("config")


def load(config_dir: Path, env: dict[str, str] | None = None) -> Config:
    return load_config(config_dir, env=ENV if env is None else env, factories=FACTORIES)


def errors(config_dir: Path, env: dict[str, str] | None = None) -> list[str]:
    found = check_config(config_dir, ENV if env is None else env, factories=FACTORIES)
    return [str(e) for e in found]


def edit(path: Path, old: str, new: str) -> str:
    """Replace ``old`` (which must occur exactly once) and return the new text."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    text = text.replace(old, new)
    path.write_text(text)
    return text


def pos(text: str, needle: str, nth: int = 1, skip: int = 0) -> str:
    """``LINE:COL`` (1-based) of the nth occurrence of ``needle``, plus ``skip`` characters."""
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    at += skip
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return f"{line}:{col}"


# --- the example deployment -------------------------------------------------------------


def test_example_config_loads_cleanly(cfg: Path) -> None:
    config = load(cfg, env={})
    assert check_config(cfg, {}, factories=FACTORIES) == []
    assert set(config.enabled_platforms()) == {"local"}
    local = config.settings.platforms["local"]
    assert isinstance(local, LocalSettings)
    assert local.staff_channel == "staff" and local.public_channels == ["help"]
    assert config.settings.desk.reopen_window == 24 * 3600
    assert config.settings.outbox.backoff_max == 300
    assert set(config.policies.packs) == {"privacy", "signature", "limits", "tone", "disclosure"}
    assert [r["id"] for r in config.policies.rules] == ["acme.no-refund-promises"]

    staff = config.roster.staff
    assert len(staff) == 12
    roles = [m.role for m in staff]
    assert roles.count(Role.LEAD) == 2 and roles.count(Role.MANAGER) == 1
    assert len(config.roster.leads()) == 3
    skills = {s for m in staff for s in m.skills}
    assert skills == {"billing", "orders", "tv", "computing", "mobile", "appliances"}
    assert all("en" in m.languages and m.notify == ("local",) for m in staff)
    assert {"es", "fr"} <= {lang for m in staff for lang in m.languages}
    assert all(m.accounts["local"].startswith("staff-") for m in staff)

    jd = config.roster.by_account("local", "staff-jd")
    assert jd is not None and jd is config.roster.get(jd.id)
    assert config.roster.by_account("local", "nobody") is None
    assert config.roster.get("nobody") is None

    assert len(config.files_hash) == 64
    assert load(cfg, env={}).files_hash == config.files_hash
    edit(cfg / "policies.yaml", "\nrules:\n", "\nrules: # edited\n")
    assert load(cfg, env={}).files_hash != config.files_hash


def test_objects_are_frozen(cfg: Path) -> None:
    config = load(cfg)
    with pytest.raises(ValidationError):
        config.settings.desk.brand = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.roster.staff[0].name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.settings.platforms["local"].enabled = False  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.policies.rules = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.files_hash = ""  # type: ignore[misc]
    assert isinstance(config.roster.staff, tuple)


def test_default_config_dir_prefers_local_config(cfg: Path) -> None:
    assert default_config_dir() == Path("config")


def test_default_config_dir_falls_back_to_embedded_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("helpforce.example_config")
    monkeypatch.chdir(tmp_path)
    found = default_config_dir()
    assert (found / "helpforce.yaml").is_file() and (found / "roster.yaml").is_file()


# --- positions of errors ----------------------------------------------------------------


def test_yaml_syntax_error(cfg: Path) -> None:
    (cfg / "helpforce.yaml").write_text("desk:\n  brand: x\n   notify_limit: 3\n")
    assert errors(cfg) == [
        "config/helpforce.yaml:3:16: YAML syntax error: mapping values are not allowed here"
    ]


def test_unclosed_quote_reports_where_it_started(cfg: Path) -> None:
    (cfg / "helpforce.yaml").write_text('desk:\n  brand: "unclosed\n  notify_limit: 3\n')
    assert errors(cfg) == [
        "config/helpforce.yaml:4:1: YAML syntax error: found unexpected end of stream "
        "(while scanning a quoted scalar at line 2, column 10)"
    ]


def test_telegram_handle_instead_of_user_id(cfg: Path) -> None:
    text = edit(
        cfg / "roster.yaml",
        "      local: staff-so\n",
        "      local: staff-so\n      telegram: '@jdoe'\n",
    )
    where = pos(text, "'@jdoe'")
    assert errors(cfg) == [
        f"config/roster.yaml:{where}: staff[3].accounts.telegram: "
        "expected a numeric user id, got '@jdoe'"
    ]


def test_user_ids_are_normalised_by_the_platform(cfg: Path) -> None:
    edit(
        cfg / "roster.yaml",
        "      local: staff-so\n",
        "      local: staff-so\n      telegram: 42\n",
    )
    config = load(cfg)
    member = config.roster.by_account("telegram", "42")
    assert member is not None and member.id == "sokafor"


def test_duplicate_staff_id(cfg: Path) -> None:
    text = edit(cfg / "roster.yaml", "- id: tgirard", "- id: jdiaz")
    assert errors(cfg) == [
        f"config/roster.yaml:{pos(text, 'jdiaz', 2)}: staff[5].id: "
        "duplicate staff id 'jdiaz' (also staff[0])"
    ]


def test_same_account_on_two_staff(cfg: Path) -> None:
    text = edit(cfg / "roster.yaml", "local: staff-lm", "local: staff-jd")
    assert errors(cfg) == [
        f"config/roster.yaml:{pos(text, 'staff-jd', 2)}: staff[4].accounts.local: "
        "local account staff-jd already belongs to staff[0] (jdiaz)"
    ]


def test_notify_without_account(cfg: Path) -> None:
    text = edit(
        cfg / "roster.yaml",
        "      local: staff-rp\n    notify: [local]",
        "      local: staff-rp\n    notify: [local, telegram]",
    )
    assert errors(cfg) == [
        f"config/roster.yaml:{pos(text, 'telegram]')}: staff[11].notify[1]: "
        "no telegram account under accounts to notify"
    ]


def test_unknown_key_top_level(cfg: Path) -> None:
    text = edit(cfg / "helpforce.yaml", "\nstorage:\n", "\ncolour: blue\nstorage:\n")
    assert errors(cfg) == [
        f"config/helpforce.yaml:{pos(text, 'colour')}: colour: unknown setting 'colour'"
    ]


def test_unknown_keys_nested(cfg: Path) -> None:
    settings = edit(
        cfg / "helpforce.yaml", "      burst: 500\n", "      burst: 500\n      per_minute: 9\n"
    )
    roster = edit(
        cfg / "roster.yaml", "    name: Morgan Ellis\n", "    name: Morgan Ellis\n    nick: Mo\n"
    )
    assert errors(cfg) == [
        f"config/helpforce.yaml:{pos(settings, 'per_minute')}: "
        "platforms.local.rate_limit.per_minute: unknown setting 'per_minute'",
        f"config/roster.yaml:{pos(roster, 'nick')}: staff[2].nick: unknown setting 'nick'",
    ]


def test_missing_field_points_at_enclosing_mapping(cfg: Path) -> None:
    text = edit(cfg / "roster.yaml", "    name: Priya Raman\n", "")
    assert errors(cfg) == [
        f"config/roster.yaml:{pos(text, 'id: praman')}: staff[1].name: required setting is missing"
    ]


def test_unknown_platform(cfg: Path) -> None:
    settings = edit(
        cfg / "helpforce.yaml", "\nplatforms:\n", "\nplatforms:\n  slack:\n    enabled: true\n"
    )
    roster = edit(
        cfg / "roster.yaml", "      local: staff-mb\n", "      local: staff-mb\n      irc: mbell\n"
    )
    assert errors(cfg) == [
        f"config/helpforce.yaml:{pos(settings, 'slack')}: platforms.slack: "
        "unknown platform 'slack' (installed: local, telegram)",
        f"config/roster.yaml:{pos(roster, 'irc')}: staff[7].accounts.irc: "
        "unknown platform 'irc' (installed: local, telegram)",
    ]


def test_duplicate_yaml_key(cfg: Path) -> None:
    text = edit(
        cfg / "helpforce.yaml", "  notify_limit: 5\n", "  notify_limit: 5\n  brand: other\n"
    )
    first = pos(text, "brand: helpforce").replace(":", ", column ")
    assert errors(cfg) == [
        f"config/helpforce.yaml:{pos(text, 'brand: other')}: desk.brand: "
        f"duplicate key 'brand' (first at line {first})"
    ]


def test_roles_other_than_agent_lead_manager_refused(cfg: Path) -> None:
    text = edit(cfg / "roster.yaml", "role: manager", "role: boss")
    assert errors(cfg) == [
        f"config/roster.yaml:{pos(text, 'boss')}: staff[2].role: "
        "expected one of 'agent', 'lead' or 'manager', got 'boss'"
    ]


def test_bad_values_get_plain_messages(cfg: Path) -> None:
    text = edit(cfg / "helpforce.yaml", "notify_limit: 5", "notify_limit: 500")
    text = edit(cfg / "helpforce.yaml", "max_attempts: 8", "max_attempts: many")
    assert errors(cfg) == [
        f"config/helpforce.yaml:{pos(text, '500')}: desk.notify_limit: "
        "must be less than or equal to 50, got 500",
        f"config/helpforce.yaml:{pos(text, ': many', skip=2)}: outbox.max_attempts: "
        "expected a whole number, got 'many'",
    ]


def test_all_errors_across_all_files_are_collected(cfg: Path) -> None:
    edit(cfg / "helpforce.yaml", "reopen_window: 24h", "reopen_window: soon")
    edit(cfg / "helpforce.yaml", 'signature: " ^{initials}"', 'signature: " --"')
    edit(cfg / "roster.yaml", "role: manager", "role: boss")
    edit(cfg / "roster.yaml", "initials: AC", "initials: A.C.")
    edit(cfg / "policies.yaml", "\nrules:\n", "\nextra: 1\nrules:\n")
    with pytest.raises(ConfigErrors) as caught:
        load(cfg)
    fields = [(e.file, e.field) for e in caught.value.errors]
    assert fields == [
        ("config/helpforce.yaml", "desk.reopen_window"),
        ("config/helpforce.yaml", "desk.signature"),
        ("config/roster.yaml", "staff[2].role"),
        ("config/roster.yaml", "staff[6].initials"),
        ("config/policies.yaml", "extra"),
    ]
    lines = str(caught.value).splitlines()
    assert lines == [str(e) for e in caught.value.errors]
    assert "expected a duration like 30s, 15m, 24h or 7d, got 'soon'" in lines[0]


def test_absolute_config_dir_is_shown_absolute(cfg: Path) -> None:
    absolute = cfg.resolve()
    edit(cfg / "roster.yaml", "role: manager", "role: boss")
    (error,) = check_config(absolute, ENV, factories=FACTORIES)
    assert isinstance(error, ConfigError)
    assert error.file == str(absolute / "roster.yaml")


def test_missing_file(cfg: Path) -> None:
    (cfg / "policies.yaml").unlink()
    (message,) = errors(cfg)
    assert message.startswith("config/policies.yaml:1:1: cannot read:")


def test_empty_file_is_an_empty_mapping(cfg: Path) -> None:
    (cfg / "policies.yaml").write_text("# nothing here yet\n")
    assert load(cfg).policies.packs == {"privacy": {}}
    (cfg / "roster.yaml").write_text("")
    assert errors(cfg) == ["config/roster.yaml:1:1: staff: required setting is missing"]


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * 86400),
        ("90m", 5400),
        ("30s", 30),
        ("1.5h", 5400),
        ("24H", 86400),
        (45, 45),
        (0.5, 0.5),
        ("120", 120),
    ],
)
def test_duration_parsed(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "3 weeks", "-5s", -1, "", True, None, "1e3"])
def test_duration_garbage_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="expected a duration like 30s, 15m, 24h or 7d"):
        parse_duration(bad)


def test_duration_in_config(cfg: Path) -> None:
    edit(cfg / "helpforce.yaml", "reopen_window: 24h", "reopen_window: 7d")
    edit(cfg / "helpforce.yaml", "backoff_base: 0.5s", "backoff_base: 2")
    config = load(cfg)
    assert config.settings.desk.reopen_window == 7 * 86400.0
    assert config.settings.outbox.backoff_base == 2.0
    text = edit(cfg / "helpforce.yaml", "reopen_window: 7d", "reopen_window: soon")
    assert errors(cfg) == [
        f"config/helpforce.yaml:{pos(text, 'soon')}: desk.reopen_window: "
        "expected a duration like 30s, 15m, 24h or 7d, got 'soon'"
    ]


# --- secrets ----------------------------------------------------------------------------

TELEGRAM = "\nplatforms:\n  telegram:\n    token_env: HELPFORCE_TELEGRAM_TOKEN\n"


def test_missing_env_var_for_enabled_platform(cfg: Path) -> None:
    text = edit(cfg / "helpforce.yaml", "\nplatforms:\n", TELEGRAM)
    assert errors(cfg, env={}) == [
        f"config/helpforce.yaml:{pos(text, 'HELPFORCE_TELEGRAM_TOKEN')}: "
        "platforms.telegram.token_env: environment variable HELPFORCE_TELEGRAM_TOKEN "
        "is not set (platform telegram is enabled)"
    ]
    config = load(cfg)
    assert set(config.enabled_platforms()) == {"local", "telegram"}
    assert isinstance(config.settings.platforms["telegram"], TelegramSettings)


def test_defaulted_env_field_points_at_the_platform(cfg: Path) -> None:
    text = edit(
        cfg / "helpforce.yaml",
        "\nplatforms:\n",
        "\nplatforms:\n  telegram:\n    staff_channel: '-100'\n",
    )
    assert errors(cfg, env={}) == [
        f"config/helpforce.yaml:{pos(text, 'staff_channel')}: "
        "platforms.telegram.token_env: environment variable HELPFORCE_TELEGRAM_TOKEN "
        "is not set (platform telegram is enabled)"
    ]


def test_disabled_platform_needs_no_secret(cfg: Path) -> None:
    edit(cfg / "helpforce.yaml", "\nplatforms:\n", TELEGRAM + "    enabled: false\n")
    config = load(cfg, env={})
    assert set(config.enabled_platforms()) == {"local"}


@pytest.mark.parametrize(
    "value",
    [
        "changeme",
        "CHANGEME",
        "change-me",
        "your-token-here",
        "your_token_here",
        "xxx",
        "XXXXXXXX",
        "<token>",
        "<your bot token>",
        "TODO",
        "replace-me",
        "replaceme",
        "token",
        "secret",
        "...",
        "",
        "   ",
    ],
)
def test_placeholder_secret_refused(cfg: Path, value: str) -> None:
    text = edit(cfg / "helpforce.yaml", "\nplatforms:\n", TELEGRAM)
    found = errors(cfg, env={"HELPFORCE_TELEGRAM_TOKEN": value})
    why = "is empty" if not value.strip() else "holds a placeholder, not a real secret"
    assert found == [
        f"config/helpforce.yaml:{pos(text, 'HELPFORCE_TELEGRAM_TOKEN')}: "
        f"platforms.telegram.token_env: environment variable HELPFORCE_TELEGRAM_TOKEN {why} "
        "(platform telegram is enabled)"
    ]


def test_real_secrets_are_not_placeholders() -> None:
    assert not is_placeholder(TOKEN)
    assert not is_placeholder("x1y2z3")
    assert is_placeholder(" <paste here> ")


def test_secret_in_yaml_refused_without_echoing_it(cfg: Path) -> None:
    text = edit(
        cfg / "helpforce.yaml",
        "\nplatforms:\n",
        f"\nplatforms:\n  telegram:\n    token_env: '{TOKEN}'\n",
    )
    (message,) = errors(cfg)
    assert message == (
        f"config/helpforce.yaml:{pos(text, repr(TOKEN))}: platforms.telegram.token_env: "
        + NOT_AN_ENV_NAME
    )
    assert TOKEN not in message


@pytest.mark.parametrize("value", ["tg_token", "xvz1evFS4wEEPTGEFPHBog"])
def test_a_value_that_is_no_env_name_is_refused_and_never_repeated(
    cfg: Path, value: str
) -> None:
    # even a value shaped like a name may be a secret (an X consumer key is letters and
    # digits): errors are logged and sent to the managers
    text = edit(
        cfg / "helpforce.yaml",
        "\nplatforms:\n",
        TELEGRAM.replace("HELPFORCE_TELEGRAM_TOKEN", value),
    )
    assert errors(cfg) == [
        f"config/helpforce.yaml:{pos(text, value)}: platforms.telegram.token_env: "
        + NOT_AN_ENV_NAME
    ]


def test_secret_value_never_in_messages(cfg: Path) -> None:
    edit(cfg / "helpforce.yaml", "\nplatforms:\n", TELEGRAM)
    secret = "<my real token 8c1f>"
    found = errors(cfg, env={"HELPFORCE_TELEGRAM_TOKEN": secret})
    assert len(found) == 1 and secret not in found[0]


def test_at_least_one_enabled_platform(cfg: Path) -> None:
    text = edit(cfg / "helpforce.yaml", "    enabled: true\n", "    enabled: false\n")
    assert errors(cfg) == [
        f"config/helpforce.yaml:{pos(text, 'local:')}: platforms: "
        "no platform is enabled; enable at least one"
    ]


def test_the_commented_platform_examples_are_valid_once_uncommented(cfg: Path) -> None:
    """The example helpforce.yaml shows each platform commented out: uncommented as the
    comment says, each must load (with its environment variables set)."""
    import re

    from helpforce.adapter import discover_factories

    path = cfg / "helpforce.yaml"
    text = path.read_text()
    blocks = re.findall(r"^  # (telegram|discord|x):\n((?:  #   .*\n)+)", text, re.M)
    assert [name for name, _ in blocks] == ["telegram", "discord", "x"]
    for name, body in blocks:
        uncommented = "".join(line.replace("  #   ", "    ", 1) + "\n"
                              for line in body.splitlines())
        path.write_text(text.replace("platforms:\n", f"platforms:\n  {name}:\n{uncommented}", 1))
        env = {v: "secret-value" for v in re.findall(r"(HELPFORCE_[A-Z_]+)", uncommented)}
        config = load_config(cfg, env=env, factories=discover_factories())
        assert config.settings.platforms[name].enabled, name


@pytest.mark.parametrize("zone", ["Europe", "America", "X" * 300])
def test_a_time_zone_that_is_a_directory_or_too_long_is_an_error_with_its_place(
    cfg: Path, zone: str
) -> None:
    # "Europe" is a directory of the zone database: opening it is an OSError, not "unknown"
    text = edit(cfg / "routing.yaml", "timezone: America/Chicago", f"timezone: {zone}")
    (message,) = errors(cfg)
    assert message.startswith(f"config/routing.yaml:{pos(text, zone)}: timezone: ")
    assert "expected a time zone name" in message


def test_yaml_aliases_that_refer_to_themselves_or_explode_are_errors_not_crashes() -> None:
    from helpforce.config.yamlpos import MAX_VALUES, load_yaml

    merged = load_yaml("d: &d {role: agent, <<: *d}\n", "roster.yaml")
    assert [str(e) for e in merged.errors] == [
        "roster.yaml:1:4: d: a YAML alias may not refer to its own enclosing value"]
    # "billion laughs": 300 bytes that expand to ten million values
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    exploding = load_yaml("\n".join(levels) + "\n", "roster.yaml")
    assert [f"more than {MAX_VALUES:,} values" in str(e) for e in exploding.errors] == [True]
