"""The README is the project's front door: its commands must exist and its reference must match the code."""

import re
import textwrap

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


# Paths the README names that are not files of the repository: what commands write, and files a user brings.
NOT_IN_THE_REPOSITORY = re.compile(r"^(build/|test-artifacts/|\.venv|draft\.txt|statements\.jsonl|results\.jsonl|"
                                   r"LABELS\.yaml|MORE\.yaml|FILE|PATH|DIR)")


def test_readme_points_only_to_files_in_the_repository():
    """Every file path the README names in `code` exists here (none points outside the repository)."""
    named = set(re.findall(r"`([\w./-]+\.(?:md|yaml|yml|py|json|toml|txt|cfg))`", README))
    named |= set(re.findall(r"`((?:[a-z][\w.-]*/)+[\w.-]+)`", README))
    example = README.split("### Adding a source, a claim, a statement", 1)[1].split("\n### ", 1)[0]
    created = set(re.findall(r"Here\s+`([\w./-]+)`", example))  # the files the example tells the reader to create
    paths = {p for p in named - created
             if "<" not in p and not NOT_IN_THE_REPOSITORY.match(p) and not p.startswith(("/", "http"))}
    missing = sorted(p for p in paths if not (ROOT / p).exists() and not any(ROOT.glob(p)))
    assert missing == [], f"the README names files that are not in the repository: {missing}"
    assert "ANNOTATION.md" not in README and "statements-dev.yaml" not in README and "../shared" not in README


def test_readme_timings_say_when_they_were_measured():
    for line in README.splitlines():
        if re.search(r"\b(about|took) \d+ (minutes|seconds)\b", line):
            assert re.search(r"\b20\d\d-\d\d-\d\d\b", line), f"a timing without the date it was measured: {line}"


def _yaml_blocks(section: str) -> list[str]:
    return [textwrap.dedent(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_adding_a_claim_example_adds_new_records_that_validate(tmp_path):
    """Pasting the README's example into the data gives one more source, claim and statement, and no problem."""
    import yaml

    from kb.validate import load_knowledge_base
    from kbtest import copy_data

    section = README.split("### Adding a source, a claim, a statement", 1)[1].split("\n### ", 1)[0]
    source, claims, statements = _yaml_blocks(section)
    source_id = yaml.safe_load(claims)["source"]
    root = copy_data(tmp_path / "kb")
    before, problems = load_knowledge_base(root)
    assert problems == []
    assert source_id not in before.sources and not (root / "claims" / f"{source_id}.yaml").exists()
    (root / "sources" / f"{source_id}.yaml").write_text(source, encoding="utf-8")
    (root / "claims" / f"{source_id}.yaml").write_text(claims, encoding="utf-8")
    (root / "statements" / "readme-example.yaml").write_text(statements, encoding="utf-8")
    after, problems = load_knowledge_base(root)
    assert [str(p) for p in problems] == []
    assert len(after.sources) == len(before.sources) + 1
    assert len(after.claims) == len(before.claims) + 1
    assert len(after.statements) == len(before.statements) + 1


def test_make_run_prints_the_committed_figures_and_serves_everything_on_one_server():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    run = makefile.split("\nrun: ", 1)[1].split("\n\n", 1)[0]
    assert "kb eval --show" in run and run.rstrip().endswith("$(BIN)/kb serve --port $(PORT)")
    assert "kb site --serve" not in run  # the site is served by kb serve, under /site/
