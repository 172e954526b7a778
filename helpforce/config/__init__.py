"""The configuration managers edit: three YAML files validated into frozen typed objects.

``load_config(dir)`` returns a :class:`Config` or raises :class:`ConfigErrors`, whose lines
read ``FILE:LINE:COL: FIELD: message`` for every problem in every file.
"""

from helpforce.config.loader import (
    FILES,
    POLICIES_FILE,
    ROSTER_FILE,
    ROUTING_FILE,
    SETTINGS_FILE,
    Config,
    check_config,
    is_placeholder,
    load_config,
)
from helpforce.config.paths import default_config_dir
from helpforce.config.schema import (
    DeskSettings,
    Duration,
    HelpforceSettings,
    OutboxSettings,
    PlatformSettings,
    PolicySettings,
    RateLimit,
    Roster,
    StaffMember,
    StorageSettings,
    parse_duration,
)
from helpforce.config.yamlpos import ConfigError, ConfigErrors, load_yaml, load_yaml_file

__all__ = [
    "FILES",
    "POLICIES_FILE",
    "ROSTER_FILE",
    "ROUTING_FILE",
    "SETTINGS_FILE",
    "Config",
    "ConfigError",
    "ConfigErrors",
    "DeskSettings",
    "Duration",
    "HelpforceSettings",
    "OutboxSettings",
    "PlatformSettings",
    "PolicySettings",
    "RateLimit",
    "Roster",
    "StaffMember",
    "StorageSettings",
    "check_config",
    "default_config_dir",
    "is_placeholder",
    "load_config",
    "load_yaml",
    "load_yaml_file",
    "parse_duration",
]
