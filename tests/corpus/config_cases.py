"""Bad agency files and boundaries, as data: each case is a name, the input
(text replacements in ``tests/data/corpus/agency.yaml``, and files written
beside it) and the words its refusal must say.

Each problem is one line, ``path: message (line N)``; a case names the words
its answer must contain (the key's path among them). Add a case by adding a
line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CG_TEST = "test: https://cg.example.gov/cartegraph/api/v1"
CG_PRODUCTION = "production: https://cg-prod.example.gov/cartegraph/api/v1"
LUCITY_TEST = "test: https://eam.example.gov/LucityCitizenRestAPI"
LUCITY_INTERNAL = "test: https://eam.example.gov/LucityWebAPI"
CRM_URL = "base_url: https://crm.example.gov/api/v2"
GEOCODER = "url: https://geocode.example.gov/arcgis/rest/services/World/GeocodeServer"
LUCITY_PATH = "requests: Work/Requests.svc/"
BOUNDARY = "boundary: new_haven.geojson"
AGENCY_NAME = "name: City of New Haven"


@dataclass(frozen=True)
class ConfigCase:
    name: str
    changes: tuple[tuple[str, str], ...]  # (text, its replacement) in the base file
    expected: tuple[str, ...]  # words the answer contains
    files: dict[str, str | bytes] = field(default_factory=dict)  # written beside the file
    directories: tuple[str, ...] = ()  # created beside the file


def case(name: str, old: str, new: str, *expected: str, **extra) -> ConfigCase:
    return ConfigCase(name, ((old, new),), expected, **extra)


def cg_endpoint(url: str) -> tuple[str, str]:
    return CG_TEST, f"test: {url}"


def boundary_file(name: str, content: str | bytes, error: str) -> ConfigCase:
    """A boundary file with ``content``, named by the agency file."""
    return ConfigCase(
        f"boundary: {name}",
        ((BOUNDARY, "boundary: b.geojson"),),
        ("agency.boundary: b.geojson: ", error),
        files={"b.geojson": content},
    )


def polygon(ring: str) -> str:
    return '{"type": "Polygon", "coordinates": [' + ring + "]}"


SQUARE = "[[-72.95, 41.29], [-72.90, 41.29], [-72.90, 41.33], [-72.95, 41.33], [-72.95, 41.29]]"
HOLE = "[[-72.93, 41.30], [-72.92, 41.30], [-72.92, 41.31], [-72.93, 41.30]]"
LONG_DIRS = "d/" * 500  # a boundary path of more than 1000 characters (the column)

CONFIG_CASES: list[ConfigCase] = [
    # -- credentials in URLs -----------------------------------------------------------
    case(
        "CRM URL with user:password",
        CRM_URL,
        "base_url: https://me:pw@crm.example.gov/api/v2",
        "crm.base_url: a URL may not hold a user name or password",
    ),
    case(
        "CRM URL with access_token",
        CRM_URL,
        CRM_URL + "?access_token=abc123",
        "crm.base_url: a URL may not hold a credential (access_token=...)",
    ),
    case(
        "CRM URL with a user name only",
        CRM_URL,
        "base_url: https://me@crm.example.gov/api/v2",
        "crm.base_url: a URL may not hold a user name or password",
    ),
    case(
        "geocoder URL with token",
        GEOCODER,
        GEOCODER + "?token=abc123",
        "geocoder.url: a URL may not hold a credential (token=...)",
    ),
    case(
        "geocoder URL with f=json&token",
        GEOCODER,
        GEOCODER + "?f=json&token=abc",
        "geocoder.url: a URL may not hold a credential (token=...)",
    ),
    case(
        "Cartegraph endpoint with user:password",
        *cg_endpoint("https://crosswalk:hunter2@cg.example.gov/cartegraph/api/v1"),
        "integrations[0].endpoints.test: a URL may not hold a user name or password",
    ),
    case(
        "Cartegraph endpoint with password=",
        *cg_endpoint("https://cg.example.gov/cartegraph/api/v1?password=hunter2"),
        "integrations[0].endpoints.test: a URL may not hold a credential (password=...)",
    ),
    case(
        "Cartegraph endpoint with api_key=",
        *cg_endpoint("https://cg.example.gov/cartegraph/api/v1?api_key=k"),
        "integrations[0].endpoints.test: a URL may not hold a credential (api_key=...)",
    ),
    case(
        "Cartegraph endpoint with Token= (any case)",
        *cg_endpoint("https://cg.example.gov/api?Token=k"),
        "a URL may not hold a credential (Token=...)",
    ),
    case(
        "Cartegraph endpoint with client_secret=",
        *cg_endpoint("https://cg.example.gov/api?client_secret=k"),
        "(client_secret=...)",
    ),
    case(
        "production endpoint (not live) with a password",
        CG_PRODUCTION,
        "production: https://u:p@cg-prod.example.gov/api",
        "integrations[0].endpoints.production: a URL may not hold a user name or password",
    ),
    case(
        "Lucity endpoint with user:password",
        LUCITY_TEST,
        "test: https://u:p@eam.example.gov/LucityCitizenRestAPI",
        "integrations[1].endpoints.test: a URL may not hold a user name or password",
    ),
    case(
        "Lucity internal endpoint with a token",
        LUCITY_INTERNAL,
        LUCITY_INTERNAL + "?access_token=abc",
        "integrations[1].internal_endpoints.test: a URL may not hold a credential",
    ),
    # -- only http(s), and never the cloud metadata service ----------------------------
    case(
        "ftp endpoint",
        *cg_endpoint("ftp://cg.example.gov/api"),
        "integrations[0].endpoints.test: only http and https URLs are used (got ftp:)",
    ),
    case(
        "file endpoint",
        *cg_endpoint("file:///etc/passwd"),
        "integrations[0].endpoints.test: not a URL",
    ),
    case(
        "javascript endpoint",
        *cg_endpoint("javascript:alert(1)"),
        "integrations[0].endpoints.test: not a URL",
    ),
    case(
        "endpoint without a host",
        *cg_endpoint("https:///api"),
        "integrations[0].endpoints.test: not a URL",
    ),
    case(
        "endpoint with port 99999",
        *cg_endpoint("https://cg.example.gov:99999/api"),
        "integrations[0].endpoints.test: not a URL",
    ),
    case(
        "endpoint with an unclosed IPv6 bracket",
        *cg_endpoint("'http://[::1/api'"),
        "integrations[0].endpoints.test: not a URL",
    ),
    case(
        "endpoint with a space",
        *cg_endpoint("'https://cg.example.gov/my api'"),
        "integrations[0].endpoints.test: not a URL (it contains spaces",
    ),
    case(
        "endpoint at 169.254.169.254",
        *cg_endpoint("http://169.254.169.254/latest/meta-data"),
        "integrations[0].endpoints.test: 169.254.169.254 is where cloud metadata services",
    ),
    case(
        "endpoint at metadata.google.internal",
        *cg_endpoint("http://metadata.google.internal/computeMetadata/v1"),
        "metadata.google.internal is where cloud metadata services answer",
    ),
    case(
        "endpoint at metadata.google.internal. (trailing dot)",
        *cg_endpoint("http://metadata.google.internal./v1"),
        "cloud metadata",
    ),
    case(
        "endpoint at fd00:ec2::254",
        *cg_endpoint("http://[fd00:ec2::254]/latest"),
        "fd00:ec2::254 is where cloud metadata services answer",
    ),
    case(
        "endpoint at 169.254.169.254 in decimal",
        *cg_endpoint("http://2852039166/latest"),
        "2852039166 is where cloud metadata services answer",
    ),
    case(
        "endpoint at 169.254.169.254 in hex",
        *cg_endpoint("http://0xA9FEA9FE/latest"),
        "is where cloud metadata services answer",
    ),
    case(
        "endpoint at 169.254.169.254 as IPv4-mapped IPv6",
        *cg_endpoint("http://[::ffff:169.254.169.254]/latest"),
        "cloud metadata",
    ),
    case(
        "CRM URL at the metadata address",
        CRM_URL,
        "base_url: http://169.254.169.254/api",
        "crm.base_url: 169.254.169.254 is where cloud metadata services answer",
    ),
    case(
        "geocoder at the metadata address",
        GEOCODER,
        "url: http://169.254.169.254/x",
        "geocoder.url: 169.254.169.254 is where cloud metadata services answer",
    ),
    # -- Lucity paths stay under the endpoint ------------------------------------------
    case(
        "Lucity path an absolute URL",
        LUCITY_PATH,
        "requests: https://evil.example/x",
        "integrations[1].paths.requests: must be a path relative to the endpoint",
    ),
    case(
        "Lucity path //host",
        LUCITY_PATH,
        "requests: //evil.example/x",
        "integrations[1].paths.requests: must be a path relative to the endpoint",
    ),
    case(
        "Lucity path from the root",
        LUCITY_PATH,
        "requests: /Work/Requests.svc/",
        "must be a path relative to the endpoint",
    ),
    case(
        "Lucity path with a backslash",
        LUCITY_PATH,
        r"requests: \\evil\share",
        "must be a path relative to the endpoint",
    ),
    case(
        "Lucity path climbing out",
        LUCITY_PATH,
        "requests: Work/../../admin/",
        "integrations[1].paths.requests: may not climb out of the endpoint",
    ),
    case(
        "Lucity path with a positional placeholder",
        LUCITY_PATH,
        "requests: 'Work/{0}/'",
        "the only placeholder allowed is {auto}",
    ),
    case(
        "Lucity path reading attributes",
        LUCITY_PATH,
        "requests: 'Work/{auto.__class__}/'",
        "the only placeholder allowed is {auto}",
    ),
    case(
        "Lucity path with an unknown placeholder",
        LUCITY_PATH,
        "requests: 'Work/{id}/'",
        "the only placeholder allowed is {auto}",
    ),
    case("Lucity path with a lone brace", LUCITY_PATH, "requests: 'Work/{/'", "bad placeholder"),
    case(
        "Lucity path with a token",
        LUCITY_PATH,
        "requests: Work/Requests.svc/?token=abc",
        "integrations[1].paths.requests: a URL may not hold a credential (token=...)",
    ),
    case(
        "Lucity path with a space",
        LUCITY_PATH,
        "requests: 'Work/Requests .svc/'",
        "may not contain spaces",
    ),
    case(
        "Lucity path mailto:",
        LUCITY_PATH,
        "requests: 'mailto:x@example.gov'",
        "must be a path relative to the endpoint",
    ),
    # -- text the database cannot store ------------------------------------------------
    case(
        "agency name with NUL",
        AGENCY_NAME,
        'name: "City\\0of New Haven"',
        "agency.name: contains a NUL character",
    ),
    case(
        "agency name with a lone surrogate",
        AGENCY_NAME,
        'name: "City \\ud800"',
        "agency.name: contains an unpaired surrogate",
    ),
    case(
        "category remote id with NUL",
        "remote_id: Pothole",
        'remote_id: "Pot\\0hole"',
        "integrations[0].categories[0].remote_id: contains a NUL character",
    ),
    case(
        "endpoint with NUL",
        *cg_endpoint('"https://cg.example.gov/\\0"'),
        "integrations[0].endpoints.test: contains a NUL character",
    ),
    case(
        "env var name with NUL",
        "username_env: CG_USER",
        'username_env: "CG\\0USER"',
        "integrations[0].username_env: contains a NUL character",
    ),
    case(
        "a key with NUL",
        "  kind: seeclickfix",
        '  "ki\\0nd": seeclickfix',
        "crm: a key contains a NUL character",
    ),
    case(
        "message with a lone surrogate",
        "    username_env: CG_USER",
        '    username_env: CG_USER\n    closing_message: "Done \\udfff"',
        "integrations[0].closing_message: contains an unpaired surrogate",
    ),
    # -- values longer than their columns ----------------------------------------------
    case(
        "integration name of 101 characters",
        "- name: public-works",
        "- name: " + "p" * 101,
        "integrations[0].name: should have at most 100 characters",
    ),
    case(
        "category remote id of 201 characters",
        "remote_id: Pothole",
        "remote_id: " + "P" * 201,
        "integrations[0].categories[0].remote_id: should have at most 200 characters",
    ),
    case(
        "agency name of 201 characters",
        AGENCY_NAME,
        "name: " + "N" * 201,
        "agency.name: should have at most 200 characters",
    ),
    # -- the file itself -----------------------------------------------------------------
    case(
        "YAML nested 5000 deep",
        "geocoder:",
        "deep: " + "[" * 5000 + "]" * 5000 + "\ngeocoder:",
        "the document is nested more than 50 levels deep",
    ),
    case(
        "YAML mappings nested 5000 deep",
        "geocoder:",
        "deep: " + "{a: " * 5000 + "1" + "}" * 5000 + "\ngeocoder:",
        "nested more than 50",
    ),
    case(
        "a secret in the file",
        "token_env: SCF_TOKEN",
        "token: abc123",
        "crm.token: unknown key; secrets are read from environment variables",
        "crm.token_env: required",
    ),
    case("tab indentation", "  kind: seeclickfix", "\tkind: seeclickfix", "indent with spaces"),
    case(
        "Lucity time zone climbing the file system",
        LUCITY_PATH,
        LUCITY_PATH + "\n    timezone: ../../../etc/passwd",
        "unknown time zone",
    ),
    # -- the boundary's path -----------------------------------------------------------
    case(
        "boundary path with NUL",
        BOUNDARY,
        'boundary: "new\\0haven.geojson"',
        "agency.boundary: contains a NUL character",
    ),
    case(
        "boundary path with a lone surrogate",
        BOUNDARY,
        'boundary: "new\\ud800.geojson"',
        "agency.boundary: contains an unpaired surrogate",
    ),
    case(
        "boundary file name of 300 characters",
        BOUNDARY,
        "boundary: " + "b" * 300 + ".geojson",
        "agency.boundary: cannot use",
    ),
    case(
        "boundary path longer than its column",
        BOUNDARY,
        f"boundary: {LONG_DIRS}b.geojson",
        "agency.boundary: the path is longer than 1000",
        files={f"{LONG_DIRS}b.geojson": "{}"},
        directories=(LONG_DIRS,),
    ),
    case(
        "boundary missing", BOUNDARY, "boundary: nowhere.geojson", "agency.boundary: file not found"
    ),
    case(
        "boundary a directory",
        BOUNDARY,
        "boundary: boundaries",
        "agency.boundary: not a file",
        directories=("boundaries",),
    ),
    # -- the boundary's content -------------------------------------------------------------
    boundary_file("empty", "", "the boundary is empty"),
    boundary_file("not GeoJSON nor WKT", "hello", "could not read the boundary"),
    boundary_file("JSON null", "null", "could not read the boundary"),
    boundary_file("not UTF-8", b"\xff\xfe\x00\x01", "could not read the boundary file"),
    boundary_file(
        "a point",
        '{"type": "Point", "coordinates": [-72.9, 41.3]}',
        "the boundary is a Point, not a polygon",
    ),
    boundary_file("a polygon with a cutout", polygon(f"{SQUARE}, {HOLE}"), "cutout"),
    boundary_file(
        "a ring of two points",
        polygon("[[-72.9, 41.3], [-72.8, 41.3]]"),
        "could not read the boundary",
    ),
    boundary_file(
        "NaN coordinates",
        polygon("[[NaN, 41.3], [-72.8, 41.3], [-72.8, 41.4], [NaN, 41.3]]"),
        "could not read the boundary",
    ),
    boundary_file(
        "infinite coordinates",
        polygon("[[1e400, 41.3], [-72.8, 41.3], [-72.8, 41.4], [1e400, 41.3]]"),
        "not a number (NaN or infinite)",
    ),
    boundary_file(
        "coordinates as text",
        polygon('[["a", "b"], ["c", "d"], ["e", "f"], ["a", "b"]]'),
        "could not read the boundary",
    ),
    boundary_file(
        "coordinates an object",
        '{"type": "Polygon", "coordinates": {"a": 1}}',
        "could not read the boundary",
    ),
    boundary_file(
        "a feature without geometry",
        '{"type": "Feature", "geometry": null}',
        "the boundary is empty",
    ),
    boundary_file(
        "an empty feature collection",
        '{"type": "FeatureCollection", "features": []}',
        "the boundary is empty",
    ),
    boundary_file(
        "projected coordinates",
        polygon("[[550000, 160000], [560000, 160000], [560000, 170000], [550000, 160000]]"),
        "WGS84",
    ),
    boundary_file(
        "a bow tie",
        polygon(
            "[[-72.95, 41.29], [-72.90, 41.33], [-72.90, 41.29], [-72.95, 41.33], [-72.95, 41.29]]"
        ),
        "crosses itself",
    ),
    boundary_file(
        "objects nested 100,000 deep",
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        "nested too deeply to read",
    ),
    boundary_file(
        "coordinates nested 100,000 deep",
        '{"type": "Polygon", "coordinates": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "nested too deeply to read",
    ),
    boundary_file("unfinished WKT", "POLYGON ((-72.9 41.3, -72.8 41.3", "not valid WKT"),
]
