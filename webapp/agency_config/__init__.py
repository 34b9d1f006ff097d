"""The agency configuration file: YAML text in, validated objects out.

This package is the file -> validated-object step only. It knows nothing of
Flask or the database; ``crosswalk config load`` (and the tests) call
:func:`load_agency_config` and store the result.

Every problem in the file is collected before anything is reported, each with
the dotted path of the key and the line it is on::

    integrations[0].endpoints.test: not a URL (line 14)
    crm.tokn: unknown key (did you mean 'token_env'?) (line 9)

The parts: :mod:`.yaml_lines` reads the YAML with the line of every key,
:mod:`.models` holds the pydantic models, :mod:`.problems` turns pydantic
errors into problems, and :mod:`.loader` puts them together.
"""

from .loader import load_agency_config, parse_agency_config
from .models import (
    DEFAULT_GEOCODER_URL,
    AgencyConfig,
    AgencySettings,
    CrmSettings,
    GeocoderSettings,
)
from .problems import ConfigError, ConfigProblem

__all__ = [
    "DEFAULT_GEOCODER_URL",
    "AgencyConfig",
    "AgencySettings",
    "ConfigError",
    "ConfigProblem",
    "CrmSettings",
    "GeocoderSettings",
    "load_agency_config",
    "parse_agency_config",
]
