"""The README is the project's front door: its commands must exist and its reference must match the code."""

import re

from click.testing import CliRunner

from kb.cli import cli
from kbtest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def first_code_block() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_readme_leads_with_the_two_make_commands():
    assert first_code_block() == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert "torch==2.13.0" in makefile


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", script, re.M)
    assert script.startswith("#!/usr/bin/env bash")


def test_every_command_has_help_and_is_documented():
    runner = CliRunner()
    for name, command in cli.commands.items():
        assert command.help, name
        assert runner.invoke(cli, [name, "--help"]).exit_code == 0, name
        assert f"`kb {name}" in README, f"kb {name} is not in the README's CLI reference"


def test_every_schema_field_of_a_claim_is_explained():
    from kb.schema import CLAIM

    section = README.split("## Data model", 1)[1].split("## The database", 1)[0]
    # Whole words only: a short name such as 'n' or 'id' is inside almost any text.
    missing = [f.name for f in CLAIM.fields if not re.search(rf"\b{re.escape(f.name)}\b", section)]
    assert missing == []
