"""The organisation kept as code: `catalog.yaml` (who and what) and `policy.yaml` (the rules)."""

from launchops.config.loader import ConfigError, ConfigProblem, load_config
from launchops.config.models import Catalog, OrgConfig, Policy

__all__ = ["Catalog", "ConfigError", "ConfigProblem", "OrgConfig", "Policy", "load_config"]
