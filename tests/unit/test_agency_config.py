"""The agency configuration file: parsing, defaults, and every problem at its line."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import integrations.registry as registry
from integrations.base import Connector
from integrations.cartegraph import CartegraphConnector, CartegraphSettings
from integrations.settings import IntegrationSettings
from webapp.agency_config import (
    DEFAULT_GEOCODER_URL,
    AgencyConfig,
    ConfigError,
    ConfigProblem,
    GeocoderSettings,
    load_agency_config,
    parse_agency_config,
)

# The documented example (docs/configuration.md); line numbers below refer to it.
EXAMPLE = """\
agency:
  name: City of New Haven
  integration_user: City of New Haven     # display name on comments; default: name
  boundary: boundary.geojson              # optional, relative to this file (importers)
crm:
  kind: seeclickfix
  base_url: https://seeclickfix.com/api/v2
  organization_id: 1234
  token_env: SCF_TOKEN                    # env var holding the bearer token
  webhook_secret_env: SCF_WEBHOOK_SECRET  # env var holding the webhook HMAC secret
  poll_interval: 60                       # seconds
geocoder:
  url: https://geocode.arcgis.com/arcgis/rest/services/World/GeocodeServer   # default
  token_env: ARCGIS_TOKEN                 # optional
integrations:
  - name: public-works
    kind: cartegraph                      # later: lucity-work-requests, lucity-work-orders
    environment: test                     # which endpoint is live
    endpoints:
      test: https://test.example.gov/cartegraph/api/v1
      production: https://cg.example.gov/cartegraph/api/v1
    username_env: CG_USER
    password_env: CG_PASSWORD
    external_id_field: SeeClickFixIDField # remote field holding the CRM issue id
    poll_interval: 300
    acknowledgment_message: "Your request has been received by Public Works."
    closing_message: "Public Works has completed this request."
    categories:
      - remote_id: Pothole                # Cartegraph IssueField value
        crm_request_type_id: 122
        acknowledgment_message: "A crew will inspect this pothole."
        closing_message: "The pothole has been patched."
"""

MINIMAL = """\
agency:
  name: Springfield
crm:
  kind: seeclickfix
  base_url: https://seeclickfix.com/api/v2
  organization_id: 7
  token_env: SCF_TOKEN
"""

SECOND_INTEGRATION = """\
  - name: public-works
    kind: cartegraph
    endpoints:
      test: https://other.example.gov/api/v1
"""


class FakeSettings(IntegrationSettings):
    label: ClassVar[str] = "Fake system"
    supported_features: ClassVar[frozenset[str]] = frozenset({"geocode"})


class FakeConnector(Connector):
    kind = "fake"
    settings_model = FakeSettings

    def find_by_external_id(self, crm_issue_id):  # pragma: no cover - never called
        return None

    def create_request(self, request):  # pragma: no cover - never called
        raise NotImplementedError

    def fetch_records(self, remote_ids):  # pragma: no cover - never called
        return {}


@pytest.fixture(autouse=True)
def known_kinds(monkeypatch):
    """A fixed set of kinds, so messages do not change as vendors are added."""
    kinds = {"cartegraph": CartegraphConnector, "fake": FakeConnector}
    monkeypatch.setattr(registry, "connector_kinds", lambda: kinds)
    return kinds


VALID_BOUNDARY = (Path(__file__).parent.parent / "data/boundaries/new_haven.geojson").read_text()


def write_config(directory: Path, text: str = EXAMPLE, *, boundary: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if boundary:
        (directory / "boundary.geojson").write_text(VALID_BOUNDARY)
    path = directory / "agency.yaml"
    path.write_text(text)
    return path


def problems_of(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_agency_config(write_config(tmp_path, text))
    return [str(p) for p in caught.value.problems]


def edit(old: str, new: str, text: str = EXAMPLE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once in the example"
    return text.replace(old, new)


# -- the example and the defaults -------------------------------------------
def test_full_example_parses(tmp_path):
    path = write_config(tmp_path)
    config = load_agency_config(path)

    assert config.source_path == path.resolve()
    assert config.boundary_path == (tmp_path / "boundary.geojson").resolve()
    assert config.agency.name == "City of New Haven"
    assert config.agency.integration_user == "City of New Haven"
    assert config.crm.organization_id == 1234
    assert config.crm.token_env == "SCF_TOKEN"
    assert config.crm.webhook_secret_env == "SCF_WEBHOOK_SECRET"
    assert config.crm.base_url == "https://seeclickfix.com/api/v2"
    assert config.geocoder.token_env == "ARCGIS_TOKEN"

    [integration] = config.integrations
    assert isinstance(integration, CartegraphSettings)
    assert integration.name == "public-works"
    assert integration.endpoint == "https://test.example.gov/cartegraph/api/v1"
    assert integration.external_id_field == "SeeClickFixIDField"
    assert integration.password_env == "CG_PASSWORD"
    [category] = integration.categories
    assert category.remote_id == "Pothole"
    assert category.crm_request_type_id == 122
    assert category.closing_message == "The pothole has been patched."
    assert config.integration("public-works") is integration


def test_defaults(tmp_path):
    config = parse_agency_config(MINIMAL)

    assert config.agency.integration_user == "Springfield"
    assert config.agency.boundary is None
    assert config.boundary_path is None
    assert config.source_path == Path("<string>")
    assert config.crm.poll_interval == 60
    assert config.crm.archive_after_days == 14
    assert config.crm.per_page == 20
    assert config.crm.webhook_secret_env is None
    assert config.geocoder == GeocoderSettings()
    assert config.geocoder.url == DEFAULT_GEOCODER_URL
    assert config.geocoder.url == (
        "https://geocode.arcgis.com/arcgis/rest/services/World/GeocodeServer"
    )
    assert config.geocoder.timeout == 10
    assert config.geocoder.enabled is True
    assert config.geocoder.token_env is None
    assert config.integrations == []


def test_empty_sections_read_as_defaults():
    config = parse_agency_config(MINIMAL + "geocoder:\nintegrations:\n")
    assert config.geocoder.url == DEFAULT_GEOCODER_URL
    assert config.integrations == []


def test_schema_has_no_loader_fields():
    properties = AgencyConfig.model_json_schema()["properties"]
    assert set(properties) == {"agency", "crm", "geocoder", "integrations"}
    with pytest.raises(ConfigError) as caught:
        parse_agency_config(MINIMAL + "source_path: /etc/passwd\n")
    assert str(caught.value) == "source_path: unknown key (line 8)"


# -- each bad input: the exact path, message and line ------------------------
CASES = [
    pytest.param(
        edit("test: https://test.example.gov", "test: test.example.gov"),
        ["integrations[0].endpoints.test: not a URL (line 20)"],
        id="bad-url-in-endpoints",
    ),
    pytest.param(
        edit("  poll_interval: 60", "  pol_interval: 60"),
        ["crm.pol_interval: unknown key (did you mean 'poll_interval'?) (line 11)"],
        id="unknown-key-did-you-mean",
    ),
    pytest.param(
        edit("external_id_field:", "external_idfield:"),
        [
            "integrations[0].external_idfield: unknown key (did you mean 'external_id_field'?)"
            " (line 24)"
        ],
        id="unknown-kind-specific-key-did-you-mean",
    ),
    pytest.param(
        edit("crm_request_type_id: 122", "crm_request_typeid: 122"),
        [
            "integrations[0].categories[0].crm_request_typeid: unknown key "
            "(did you mean 'crm_request_type_id'?) (line 30)"
        ],
        id="unknown-key-in-category",
    ),
    pytest.param(
        EXAMPLE + "colour: blue\n",
        ["colour: unknown key (line 33)"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        edit("  organization_id: 1234\n", ""),
        ["crm.organization_id: required (line 5)"],
        id="missing-required",
    ),
    pytest.param(
        edit("  name: City of New Haven\n", ""),
        ["agency.name: required (line 1)"],
        id="missing-agency-name",
    ),
    pytest.param(
        edit("crm_request_type_id: 122", "crm_request_type_id: 122\n        remote_id: Pothole"),
        [
            "integrations[0].categories[0].remote_id: duplicate key 'remote_id' (first at line 29)"
            " (line 31)"
        ],
        id="duplicate-key-in-category",
    ),
    pytest.param(
        edit("organization_id: 1234", "organization_id: many"),
        [
            "crm.organization_id: should be a valid integer, unable to parse string as an integer"
            " (got 'many') (line 8)"
        ],
        id="wrong-type",
    ),
    pytest.param(
        edit("  poll_interval: 60", "  poll_interval: 5"),
        ["crm.poll_interval: should be greater than or equal to 10 (got 5) (line 11)"],
        id="out-of-range",
    ),
    pytest.param(
        edit("kind: seeclickfix", "kind: salesforce"),
        ["crm.kind: should be 'seeclickfix' (got 'salesforce') (line 6)"],
        id="wrong-crm-kind",
    ),
    pytest.param(
        edit("token_env: ARCGIS_TOKEN", "token_env: ARCGIS-TOKEN"),
        ["geocoder.token_env: not an environment variable name (letters, digits and _) (line 14)"],
        id="bad-env-var-name",
    ),
    pytest.param(
        edit("agency:\n  name", "agency:\n  name: x\n  name"),
        ["agency.name: duplicate key 'name' (first at line 2) (line 3)"],
        id="duplicate-yaml-key",
    ),
    pytest.param(
        EXAMPLE + SECOND_INTEGRATION,
        ["integrations[1].name: duplicate name 'public-works' (first at line 16) (line 33)"],
        id="duplicate-integration-name",
    ),
    pytest.param(
        EXAMPLE + "      - remote_id: Sinkhole\n        crm_request_type_id: 122\n",
        [
            "integrations[0].categories[1].crm_request_type_id: CRM request type 122 is already "
            "mapped by integrations[0].categories[0].crm_request_type_id (line 30): each CRM "
            "issue goes to one category, so this one would never receive an issue (line 34)"
        ],
        id="two-categories-one-request-type",
    ),
    pytest.param(
        edit("kind: cartegraph", "kind: maximo"),
        [
            "integrations[0].kind: unknown integration kind 'maximo' (known: cartegraph, fake)"
            " (line 17)"
        ],
        id="unknown-kind",
    ),
    pytest.param(
        edit("    kind: cartegraph", "    colour: blue"),
        ["integrations[0].kind: required (line 16)"],
        id="missing-kind-skips-kind-specific-keys",
    ),
    pytest.param(
        edit("environment: test", "environment: staging"),
        ["integrations[0].environment: should be 'test' or 'production' (got 'staging') (line 18)"],
        id="unknown-environment",
    ),
    pytest.param(
        edit(
            "      production: https://cg.example.gov/cartegraph/api/v1\n",
            "",
            edit("environment: test", "environment: production"),
        ),
        [
            "integrations[0]: environment is 'production' but endpoints has no 'production' URL"
            " (line 16)"
        ],
        id="production-without-production-endpoint",
    ),
    pytest.param(
        edit("      production:", "      prod:"),
        [
            "integrations[0].endpoints.prod: key should be 'test' or 'production' (got 'prod')"
            " (line 21)"
        ],
        id="unknown-environment-in-endpoints",
    ),
    pytest.param(
        edit("    poll_interval: 300", "    poll_interval: 300\n    import_images: true"),
        [
            "integrations[0].import_images: the OpenGov EAM (Cartegraph) integration does not "
            "support import_images (line 26)"
        ],
        id="cartegraph-refuses-import-images",
    ),
    pytest.param(
        edit(
            "    external_id_field: SeeClickFixIDField # remote field holding the CRM issue id\n",
            "    geocode: true\n    import_requests: true\n    import_comments: false\n",
            edit("kind: cartegraph", "kind: fake"),
        ),
        [
            "integrations[0].import_requests: the Fake system integration does not support "
            "import_requests (line 25)"
        ],
        id="fake-kind-refuses-unsupported-switch",
    ),
    pytest.param(
        edit("password_env: CG_PASSWORD", "password: hunter2"),
        [
            "integrations[0].password: unknown key; secrets are read from environment variables:"
            " use password_env (line 23)"
        ],
        id="secret-in-integration",
    ),
    pytest.param(
        edit("  token_env: SCF_TOKEN", "  token: abc123"),
        [
            "crm.token_env: required (line 5)",
            "crm.token: unknown key; secrets are read from environment variables: use token_env"
            " (line 9)",
        ],
        id="secret-in-crm",
    ),
    pytest.param(
        edit("  token_env: ARCGIS_TOKEN", "  api_key: abc123"),
        [
            "geocoder.api_key: unknown key; secrets are read from environment variables:"
            " use token_env (line 14)"
        ],
        id="secret-in-geocoder",
    ),
    pytest.param(
        EXAMPLE + "1: 2\n",
        ["1: keys must be text, not 1 (line 33)"],
        id="number-as-key",
    ),
    pytest.param(
        edit("crm:\n", "crm: 5\nold_crm:\n"),
        [
            "crm: should be a mapping of keys, not 5 (line 5)",
            "old_crm: unknown key (did you mean 'crm'?) (line 6)",
        ],
        id="section-not-a-mapping",
    ),
    pytest.param(
        edit("remote_id: Pothole", "remote_id: Pothole\n      - remote_id: Pothole"),
        ["integrations[0]: category remote_id 'Pothole' is listed twice (line 16)"],
        id="category-listed-twice",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_bad_input_reports_path_and_line(tmp_path, text, expected):
    assert problems_of(text, tmp_path) == expected


# -- YAML itself -------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param(
            "agency:\n  name: [unclosed\ncrm: {}\n",
            3,
            "expected ',' or ']'",
            id="unclosed-flow-sequence",
        ),
        pytest.param("agency:\n\tname: x\n", 2, "tab", id="tab-indent"),
        pytest.param('agency:\n  name: "open\n', 3, "end of stream", id="unclosed-quote"),
        pytest.param("agency:\n  name: x\n bad: y\n", 3, "", id="bad-indent"),
        pytest.param("a: 1\n---\nb: 2\n", 2, "single document", id="two-documents"),
    ],
)
def test_syntax_errors(text, line, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_agency_config(text)
    [problem] = caught.value.problems
    assert problem.line == line
    assert problem.path == ""
    assert problem.message.startswith("invalid YAML: ")
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty: expected a mapping with agency, crm and integrations"),
        (
            "# nothing but a comment\n",
            "the file is empty: expected a mapping with agency, crm and integrations",
        ),
        (
            "- agency\n- crm\n",
            "the top level must be a mapping with agency, crm and integrations, not a list"
            " (line 1)",
        ),
        (
            "just text\n",
            "the top level must be a mapping with agency, crm and integrations, not 'just text'"
            " (line 1)",
        ),
    ],
)
def test_empty_or_not_a_mapping(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_agency_config(text)
    assert str(caught.value) == message


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_agency_config(missing)
    assert str(caught.value) == f"file does not exist: {missing}"


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ConfigError, match="not a file"):
        load_agency_config(tmp_path)


def test_anchors_aliases_and_merge_keys():
    text = (
        MINIMAL
        + """\
integrations:
  - &common
    name: roads
    kind: cartegraph
    endpoints: &endpoints
      test: https://test.example.gov/api/v1
      production: https://cg.example.gov/api/v1
  - <<: *common
    name: parks
    environment: production
"""
    )
    config = parse_agency_config(text)
    roads, parks = config.integrations
    assert roads.endpoint == "https://test.example.gov/api/v1"
    assert (parks.name, parks.kind) == ("parks", "cartegraph")
    assert parks.endpoint == "https://cg.example.gov/api/v1"


def test_alias_problem_points_at_the_anchor():
    text = (
        MINIMAL
        + """\
integrations:
  - &common
    name: roads
    kind: cartegraph
    poll_interval: 1
    endpoints: {test: "https://test.example.gov/api/v1"}
  - <<: *common
    name: parks
"""
    )
    with pytest.raises(ConfigError) as caught:
        parse_agency_config(text)
    assert caught.value.format().splitlines() == [
        "integrations[0].poll_interval: should be greater than or equal to 10 (got 1) (line 12)",
        "integrations[1].poll_interval: should be greater than or equal to 10 (got 1) (line 12)",
    ]


def test_recursive_alias_does_not_hang():
    with pytest.raises(ConfigError) as caught:
        parse_agency_config(MINIMAL.replace("agency:", "agency: &a\n  loop: *a", 1))
    assert str(caught.value) == "agency.loop: unknown key (line 2)"


# -- the boundary file -------------------------------------------------------
def test_boundary_file_missing(tmp_path):
    path = tmp_path / "agency.yaml"
    path.write_text(EXAMPLE)
    with pytest.raises(ConfigError) as caught:
        load_agency_config(path)
    expected = tmp_path.resolve() / "boundary.geojson"
    assert [str(p) for p in caught.value.problems] == [
        f"agency.boundary: file not found: {expected} (line 4)"
    ]


def test_boundary_is_relative_to_the_config_file(tmp_path, monkeypatch):
    shapes = tmp_path / "shapes"
    shapes.mkdir()
    (shapes / "city.geojson").write_text(VALID_BOUNDARY)
    config_dir = tmp_path / "config"
    path = write_config(
        config_dir,
        edit("boundary: boundary.geojson", "boundary: ../shapes/city.geojson"),
        boundary=False,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_agency_config(Path("..") / "config" / "agency.yaml")
    assert config.source_path == path.resolve()

    assert config.agency.boundary == "../shapes/city.geojson"
    assert config.boundary_path == (shapes / "city.geojson").resolve()


def test_boundary_base_dir_for_text(tmp_path):
    (tmp_path / "b.geojson").write_text(VALID_BOUNDARY)
    text = MINIMAL.replace("  name: Springfield", "  name: Springfield\n  boundary: b.geojson")
    config = parse_agency_config(text, base_dir=tmp_path)
    assert config.boundary_path == (tmp_path / "b.geojson").resolve()

    with pytest.raises(ConfigError, match=r"^agency.boundary: file not found: .*b.geojson"):
        parse_agency_config(text, base_dir=tmp_path / "other")


def test_boundary_directory_is_refused(tmp_path):
    (tmp_path / "shapes").mkdir()
    text = MINIMAL.replace("  name: Springfield", "  name: Springfield\n  boundary: shapes")
    with pytest.raises(ConfigError, match=r"^agency.boundary: not a file: "):
        parse_agency_config(text, base_dir=tmp_path)


# -- all the problems at once ------------------------------------------------
def test_all_problems_are_reported_in_file_order(tmp_path):
    text = EXAMPLE
    text = edit("organization_id: 1234", "organization_id: -3", text)
    text = edit("test: https://test.example.gov", "test: nowhere", text)
    text = edit("password_env: CG_PASSWORD", "password: hunter2", text)
    text = edit("    poll_interval: 300", "    poll_interval: 300\n    import_images: true", text)
    text = edit("  name: City of New Haven\n", "", text)
    text += SECOND_INTEGRATION

    with pytest.raises(ConfigError) as caught:
        load_agency_config(write_config(tmp_path, text))
    error = caught.value

    expected = [
        "agency.name: required (line 1)",
        "crm.organization_id: should be greater than 0 (got -3) (line 7)",
        "integrations[0].endpoints.test: not a URL (line 19)",
        "integrations[0].password: unknown key; secrets are read from environment variables:"
        " use password_env (line 22)",
        "integrations[0].import_images: the OpenGov EAM (Cartegraph) integration does not "
        "support import_images (line 25)",
        "integrations[1].name: duplicate name 'public-works' (first at line 15) (line 33)",
    ]
    assert [str(p) for p in error.problems] == expected
    assert str(error) == expected[0]
    assert error.format() == "\n".join(expected)
    assert error.source == str(tmp_path / "agency.yaml")
    assert error.problems[1] == ConfigProblem(
        "crm.organization_id", "should be greater than 0 (got -3)", 7
    )


def test_problem_formatting():
    assert str(ConfigProblem("a.b[0].c", "required", 3)) == "a.b[0].c: required (line 3)"
    assert str(ConfigProblem("a", "required")) == "a: required"
    assert str(ConfigProblem("", "the file is empty", None)) == "the file is empty"
    assert str(ConfigError([])) == "invalid configuration"


# -- the models on their own -------------------------------------------------
def test_model_validate_dispatches_by_kind():
    data = {
        "agency": {"name": "X"},
        "crm": {
            "kind": "seeclickfix",
            "base_url": "https://scf.example/api/v2",
            "organization_id": 1,
            "token_env": "T",
        },
        "integrations": [
            {
                "name": "a",
                "kind": "cartegraph",
                "endpoints": {"test": "https://a.example"},
                "request_class": "cgRequestsClass",
            },
        ],
    }
    config = AgencyConfig.model_validate(data)
    assert isinstance(config.integrations[0], CartegraphSettings)

    data["integrations"].append(dict(data["integrations"][0]))
    with pytest.raises(ValidationError, match="duplicate integration name 'a'"):
        AgencyConfig.model_validate(data)

    data["integrations"][1] = {
        "name": "b",
        "kind": "fake",
        "import_images": True,
        "endpoints": {"test": "https://b.example"},
    }
    with pytest.raises(ValidationError) as caught:
        AgencyConfig.model_validate(data)
    [err] = caught.value.errors()
    assert err["loc"] == ("integrations", 1, "import_images")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.sampled_from([*"ab:-&*[]{}\"' \t\n#!|>0", "<<", "name", "\n  "]), max_size=40).map(
        "".join
    )
)
def test_any_text_gives_a_config_or_a_config_error(text):
    try:
        parse_agency_config(text)
    except ConfigError as error:
        assert error.problems
        assert all(isinstance(p, ConfigProblem) for p in error.problems)


def test_invalid_boundary_polygon_is_refused_with_its_location(tmp_path):
    cutout = Path(__file__).parent.parent / "data/boundaries/highway_cutout.geojson"
    path = write_config(tmp_path)
    (tmp_path / "boundary.geojson").write_text(cutout.read_text())
    with pytest.raises(ConfigError) as info:
        load_agency_config(path)
    message = str(info.value)
    assert message.startswith("agency.boundary: boundary.geojson: the boundary has 2 cutouts")
    assert "around -72.9" in message and message.endswith("(line 4)")
