"""Every case of ``config_cases``: ``crosswalk config load`` answers with one
line naming the key and the problem (exit status 1, no traceback), and no
row of any table changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BOUNDARIES, SECRETS
from tests.corpus.config_cases import CONFIG_CASES, ConfigCase
from tests.corpus.conftest import AGENCY_FILE, table_counts
from webapp.cli import cli


def write_case(directory: Path, case: ConfigCase) -> Path:
    """The agency file with the case's changes, and its files, in ``directory``."""
    text = AGENCY_FILE.read_text()
    for old, new in case.changes:
        assert old in text, f"{old!r} is not in {AGENCY_FILE.name}"
        text = text.replace(old, new, 1)
    (directory / "new_haven.geojson").write_bytes((BOUNDARIES / "new_haven.geojson").read_bytes())
    for name in case.directories:
        (directory / name).mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        target = directory / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    path = directory / "agency.yaml"
    path.write_text(text)
    return path


def test_the_corpus_base_file_loads(corpus_app, tmp_path):
    path = write_case(tmp_path, ConfigCase("none", (), ()))
    result = corpus_app.test_cli_runner().invoke(cli, ["config", "load", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda case: case.name)
def test_bad_agency_file_is_refused_in_one_line_and_changes_nothing(corpus_app, tmp_path, case):
    path = write_case(tmp_path, case)
    before = table_counts(corpus_app)
    result = corpus_app.test_cli_runner().invoke(cli, ["config", "load", str(path)])
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)  # click's exit, not an escaped error
    assert result.stderr.startswith(f"Error: {path}: "), result.stderr
    for words in case.expected:
        assert words in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert table_counts(corpus_app) == before


def test_a_boundary_path_with_nul_is_one_line_from_the_real_command(tmp_path, corpus_app):
    """The installed command, as an operator runs it (the traceback of issue 8)."""
    bad = next(c for c in CONFIG_CASES if c.name == "boundary path with NUL")
    path = write_case(tmp_path, bad)
    env = {
        **os.environ,
        **SECRETS,
        "DATABASE_URL": corpus_app.config["SQLALCHEMY_DATABASE_URI"],
        "CROSSWALK_INSTANCE": str(tmp_path / "instance"),
    }
    crosswalk = str(Path(sys.executable).with_name("crosswalk"))
    result = subprocess.run(
        [crosswalk, "config", "load", str(path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: {path}: agency.boundary: contains a NUL character (\\0), which cannot be "
        "stored (line 7)"
    ]
