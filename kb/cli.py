"""The `kb` command: a thin layer over functions you can import (kb.validate, kb.build, kb.graph, ...)."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click

import kb
from kb.check.flags import FLAGGED
from kb.project import RootNotFound, find_root


class Context:
    def __init__(self, root_option):
        self._root_option = root_option

    @property
    def root(self) -> Path:
        try:
            return find_root(self._root_option)
        except RootNotFound as exc:
            raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(kb.__version__, prog_name="kb")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), envvar="CAVEAT_ROOT",
              help="The knowledge base folder (holding vocabulary/, claims/, sources/). Default: found from here.")
@click.pass_context
def cli(ctx, root):
    """Caveat: keep reports of AI-safety evaluation results honest about their conditions.

    The pipeline: validate the curated YAML, build the claim graph and SQLite database,
    check statements against it, publish with Datasette and the explainer site.
    """
    ctx.obj = Context(root)


def print_problems(problems, err=True):
    for problem in problems:
        click.echo(str(problem), err=err)
    files = len({p.file for p in problems})
    click.secho(f"{len(problems)} problem(s) in {files} file(s).", fg="red", err=err)


@contextmanager
def exit_on_invalid_data(status: int = 1):
    """Bad data ends the command with its list of problems and `status`, not a traceback."""
    from kb.build import InvalidData

    try:
        yield
    except InvalidData as exc:
        print_problems(exc.problems)
        sys.exit(status)


@cli.command()
@click.pass_obj
def validate(obj):
    """Check every data file; list every problem with file:line and the fix.

    Exit status: 0 when the data is valid, 1 when it has problems.
    """
    from kb.validate import load_knowledge_base

    knowledge_base, problems = load_knowledge_base(obj.root)
    if problems:
        print_problems(problems)
        sys.exit(1)
    click.echo(f"OK: {len(knowledge_base.sources)} sources, {len(knowledge_base.settings)} settings, "
               f"{len(knowledge_base.claims)} claims, {len(knowledge_base.statements)} statements; no problems.")


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the database (default build/kb.db).")
@click.option("--no-check", is_flag=True, help="Skip running the checker over statements/ (faster; no checks/findings tables).")
@click.option("--scan", "scans", multiple=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A `kb scan` output folder whose per-claim-per-week summary to load (repeatable).")
@click.pass_obj
def build(obj, out, no_check, scans):
    """Validate, then write the SQLite database (default build/kb.db), with the checker's verdicts on statements/.

    Without --scan, the example scan shipped in examples/scan/example (made from invented texts) is loaded."""
    from kb.pipeline import build as run_build, example_scans
    from kb.project import find_root
    from kb.scan.options import UsageError
    from kb.scan.store import EXAMPLE_SCAN

    try:
        with exit_on_invalid_data():
            if not scans and example_scans(find_root(obj.root)):
                scans = example_scans(find_root(obj.root))
                click.echo(f"Loading the example scan {EXAMPLE_SCAN} (invented texts); kb build --scan DIR loads "
                           "your own.")
            result = run_build(obj.root, out, checks=not no_check, scans=scans)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items())
    click.echo(f"Built {result.path} ({counts}).")


@cli.command()
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the differences as one JSON object.")
def diff(old, new, as_json):
    """Compare two built databases: claims added, removed and changed, and the statements whose verdict moved.

    Exit 0 when nothing differs, 1 when something does, 2 when a file is missing or not a Caveat database.
    """
    from kb.diff import DiffError, diff_databases, render

    try:
        result = diff_databases(old, new)
    except DiffError as exc:
        click.echo(f"kb diff: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False) if as_json else render(result))
    sys.exit(1 if result.differs else 0)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["json", "graphml"]), default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@click.pass_obj
def graph(obj, fmt, output):
    """Export the claim graph (node-link JSON or GraphML)."""
    from kb.build import load_valid
    from kb.graph import build_graph, to_graphml, to_json

    with exit_on_invalid_data():
        g = build_graph(load_valid(obj.root))
    text = json.dumps(to_json(g), indent=1, ensure_ascii=False, sort_keys=True) if fmt == "json" else to_graphml(g)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"Wrote {output} ({g.number_of_nodes()} nodes, {g.number_of_edges()} edges).", err=True)
    else:
        click.echo(text)


@cli.command()
def schema():
    """Print the data model: every record type and field, with its meaning (Markdown)."""
    from kb.schema_doc import schema_markdown

    click.echo(schema_markdown())


def _checker(obj, untrained: bool = False):
    from kb.check import load_checker
    from kb.check.fitted import WeightsError

    with exit_on_invalid_data(status=2):  # 2, as for other input errors: kb check exits 1 for "flagged"
        try:
            return load_checker(obj.root, untrained)
        except WeightsError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(3)


# `kb check` exit status; the highest one that applies wins.
EXIT_OK, EXIT_FLAGGED, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
CLI_BATCH = 512  # statements handed to the checker at a time: one encode each, and the memory bound of --jsonl


BLANK_LINE = "blank_line"  # the error code of a blank input line: its output object keeps the lines aligned


def _lines(stream):
    """(id, text or InputError) per input line, decoded one by one so one bad line does not stop the batch; a blank
    line is a `blank_line` InputError, so every input line gets its output line.

    A line is read at most MAX_LINE_BYTES at a time: a longer one is a too_long error, and memory stays bounded."""
    from kb.check.inputs import MAX_LINE_BYTES, InputError, parse_line, too_long

    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES)
        if not raw:
            return
        number += 1
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # skip the rest of the over-long line
            yield str(number), too_long(f"line {number}")
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield str(number), InputError("not_utf8", f"line {number} is not valid UTF-8 (byte offset {exc.start})")
            continue
        if line.strip():
            yield parse_line(line, number)
        else:
            yield str(number), InputError(BLANK_LINE, f"line {number} is blank: there is no statement on it")


def _is_blank(item) -> bool:
    return getattr(item[1], "code", None) == BLANK_LINE


def _read_statement(path, stream) -> bytes:
    """The one statement of `kb check [--file PATH]`, read no further than the length limit allows."""
    from kb.check.inputs import MAX_TEXT_BYTES

    if path:
        with path.open("rb") as handle:
            return handle.read(MAX_TEXT_BYTES + 1)
    return stream.read(MAX_TEXT_BYTES + 1)


def _exit_status(result: dict) -> int:
    if result.get("error"):
        return EXIT_INTERNAL if result["error"]["code"] == "internal" else EXIT_INPUT
    return EXIT_FLAGGED if result["verdict"] in FLAGGED else EXIT_OK


def _internal_error(sid, text, exc: Exception) -> dict:
    """The result of a statement the checker failed on: a bug in Caveat, reported without losing the rest."""
    from kb.check.inputs import printable

    shown = printable(text[:200]) if isinstance(text, str) else ""
    return {"id": printable(str(sid)), "text": shown, "verdict": None, "findings": [],
            "error": {"code": "internal", "message": f"Caveat failed on this statement ({type(exc).__name__}: "
                      f"{printable(str(exc))[:300]}); please report it with the text"}}


def checked(checker, items):
    """Results in input order, CLI_BATCH at a time; a statement the checker fails on gets an `internal` error result
    and the others are still checked (the failing batch is retried one statement at a time)."""
    from itertools import islice

    items = iter(items)
    while batch := list(islice(items, CLI_BATCH)):
        try:
            yield from list(checker.check_many(batch))
            continue
        except Exception:  # noqa: BLE001 - isolate the statement that fails, below
            pass
        for sid, text in batch:
            try:
                yield from list(checker.check_many([(sid, text)]))
            except Exception as exc:  # noqa: BLE001 - one statement's failure must not lose the batch
                yield _internal_error(sid, text, exc)


def write_json_line(out, result: dict):
    """One result as a line of valid UTF-8, whatever the input held (lone surrogates become U+FFFD)."""
    from kb.check.inputs import printable

    line = json.dumps(result, ensure_ascii=False)
    try:
        data = line.encode("utf-8")
    except UnicodeEncodeError:
        data = printable(line).encode("utf-8")
    out.write(data + b"\n")


CHECK_HELP = """Check a statement: which claims it reports, the key conditions it drops, the numbers it misstates.

    TEXT, or --file PATH, or standard input. With --jsonl, one statement per line; every line gets its result, in
    order, and a line that cannot be checked gets one with an `error` (the rest continue).

    \b
    Exit status (the highest that applies):
      0  nothing flagged
      1  flagged: a statement misses context or is misstated
      2  input error or usage error: no text at all, empty text, a line that is too long, not UTF-8, not text or bad JSON
         (with --jsonl, after every line is reported)
      3  internal error: Caveat failed on a statement (reported as its result, code `internal`)
    """


@cli.command(help=CHECK_HELP)
@click.argument("text", required=False)
@click.option("--file", "path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Check the text in this file (with --jsonl: one statement per line).")
@click.option("--jsonl", is_flag=True, help="Read one statement per line (JSON {\"id\", \"text\"} or plain text) from "
              "--file or stdin and write one JSON result per line.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar on stderr (default: when stderr is a terminal).")
@click.pass_obj
def check(obj, text, path, jsonl, progress):
    try:
        _check(obj, text, path, jsonl, progress)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except BrokenPipeError:  # the reader stopped reading (`| head`): stop quietly, as a tool killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(128 + 13)
    except Exception as exc:  # noqa: BLE001 - a bug must not pass for "flagged" (exit 1): say so, exit 3
        click.secho(f"Internal error: {type(exc).__name__}: {exc}. This is a bug in Caveat; please report it with "
                    "the command and its input.", fg="red", err=True)
        sys.exit(EXIT_INTERNAL)


def _check(obj, text, path, jsonl, progress):
    if text is not None and path is not None:
        raise click.UsageError("give the statement as TEXT or with --file, not both")
    if jsonl:
        if text is not None:
            raise click.UsageError("--jsonl reads statements from --file or standard input, not from TEXT")
        sys.exit(_check_jsonl(obj, path, progress))
    if text is None:
        text = _read_statement(path, sys.stdin.buffer)
        if not text:
            click.echo("Error: no statement to check: give it as TEXT, with --file PATH, or on standard input.", err=True)
            sys.exit(EXIT_INPUT)
    from kb.check.inputs import MAX_TEXT_BYTES, printable, too_long
    from kb.check.published import FlagTrust, published
    from kb.check.render import render

    checker = _checker(obj)
    if isinstance(text, bytes) and len(text) > MAX_TEXT_BYTES:
        text = too_long("the text")
    result = next(checked(checker, [("1", text)]))
    trust = FlagTrust.of(published(obj.root)["cv"])  # the knowledge base's committed cross-validation, if any
    click.echo(printable(render(result, checker.kb, color=None, trust=trust)))
    sys.exit(_exit_status(result))


def _check_jsonl(obj, path, progress) -> int:
    from tqdm import tqdm

    import itertools

    stream = path.open("rb") if path else sys.stdin.buffer
    show = sys.stderr.isatty() if progress is None else progress
    status = EXIT_OK
    try:
        lines = _lines(stream)
        leading = []  # up to the first line that is not blank: none at all is an input error, found before loading
        for item in lines:  # the model (seconds)
            leading.append(item)
            if not _is_blank(item):
                break
        if not leading or _is_blank(leading[-1]):
            click.echo("Error: no statements to check: the input has no non-blank lines.", err=True)
            return EXIT_INPUT
        checker = _checker(obj)
        results = checked(checker, itertools.chain(leading, lines))
        for result in tqdm(results, disable=not show, unit=" statements", file=sys.stderr):
            write_json_line(sys.stdout.buffer, result)
            if result.get("error", {}).get("code") != BLANK_LINE:  # a blank line is no statement: status unchanged
                status = max(status, _exit_status(result))
        sys.stdout.buffer.flush()
    finally:
        if path:
            stream.close()
    return status


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@click.pass_obj
def patterns(obj, output):
    """Print the checker's span_ruler patterns, generated from vocabulary/ (spaCy's JSONL pattern format)."""
    from kb.build import load_valid
    from kb.check.nlp import build_nlp, pattern_lines

    with exit_on_invalid_data():
        lines = pattern_lines(build_nlp(load_valid(obj.root)))
    text = "\n".join(lines) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {len(lines)} patterns to {output}.", err=True)
    else:
        click.echo(text, nl=False)


@cli.command(name="eval")
@click.argument("labels", nargs=-1, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--cv", "mode", flag_value="cv", help="Cross-validate by the statements' folds: score each of cv1-cv5 "
              "with a checker fitted on the other four (default: the knowledge base's statements/).")
@click.option("--locked", "mode", flag_value="locked", help="Score the locked test fold (statements/locked/, read by "
              "this alone) with a checker fitted on cv1-cv5, and append the figures to evaluation/locked-runs.jsonl. "
              "Run it rarely: no decision is made on it.")
@click.option("--by", "group_by", type=click.Choice(["fold", "source"]), default="fold", show_default=True,
              help="With --cv: 'source' leaves one knowledge-base source out at a time instead of one fold.")
@click.option("--stats", "mode", flag_value="stats", help="Print the labelled corpus's counts (provenance, verdicts, "
              "families, folds, statements without a digit, multi-result statements); runs no checker.")
@click.option("--agreement", "mode", flag_value="agreement", help="Compare the two independent labellings in "
              "statements/agreement/ with kb eval's metrics and Cohen's kappa over the verdict; runs no checker.")
@click.option("--show", "mode", flag_value="show", help="Print the measured figures from the committed evaluation/ "
              "files (cross-validated, the locked fold's latest run, human agreement); runs nothing.")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of text.")
@click.option("--summary", is_flag=True, help="Print one line (the figures over all files) instead of each file's report.")
@click.pass_obj
def evaluate(obj, labels, mode, group_by, save, as_json, summary):
    """Measure the checker on labelled statements (statements/ records, or files in that format); one or more files.

    Prints each statement the checker gets wrong, then flag accuracy, claim recall, missing-context recall,
    false-alarm rate and misstated recall, with the project's goals, for each file. With --cv or --locked it
    measures by fold, on the given files or, without any, on the knowledge base's statements/.
    """
    from kb.check.evaluate import LabelsError, as_json as to_json, evaluate as run, load_labels, report_lines

    if mode in ("stats", "agreement", "show"):
        data, lines = _eval_without_checker(obj, mode)
    else:
        if not labels and not mode:
            raise click.UsageError("give one or more label files, or --cv / --locked to use the knowledge base's folds")
        try:
            sets = [(path, load_labels(path)) for path in labels]
        except LabelsError as exc:
            click.echo(str(exc), err=True)
            sys.exit(2)
        if mode:
            data, lines = _eval_by_fold(obj, mode, sets, group_by)
        else:
            checker = _checker(obj)
            evaluations = [(str(path), run(checker, statements)) for path, statements in sets]
            data = to_json(evaluations)
            lines = [("\n" if index else "") + (f"== {path}\n" if len(evaluations) > 1 else "")
                     + "\n".join(report_lines(evaluation)) for index, (path, evaluation) in enumerate(evaluations)]
            if summary and not as_json:
                from kb.check.evaluate import summary_line

                lines = [summary_line(evaluations) + f" Details: kb eval {' '.join(map(str, labels))}"]
    if save:
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else "\n".join(lines))


def _eval_without_checker(obj, mode):
    """(JSON, text lines) for kb eval --stats / --agreement / --show."""
    from kb.check.evaluate import LabelsError

    try:
        if mode == "stats":
            from kb.build import load_valid
            from kb.check.corpus import corpus_stats

            with exit_on_invalid_data(status=2):
                stats = corpus_stats(load_valid(obj.root, locked=True))
            return {"statements": stats.statements, "verdicts": dict(stats.verdicts)}, stats.lines()
        if mode == "agreement":
            from kb.check.corpus import agreement_at

            result = agreement_at(obj.root)
            return result.as_json(), [result.line()]
        from kb.check.published import published_lines

        return {}, published_lines(obj.root)
    except LabelsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _eval_by_fold(obj, mode, sets, group_by="fold"):
    """(JSON, text lines) for kb eval --cv / --locked on the given label sets, else on the knowledge base."""
    from kb.check.evaluate import (LabelsError, by_source_lines, cross_validate, cross_validate_by_source,
                                   folded_json, folded_report_lines, kb_statements, locked_test, require_folds)

    from kb.build import load_valid

    with exit_on_invalid_data(status=2):
        knowledge_base = load_valid(obj.root, locked=mode == "locked" and not sets)
    if sets:
        statements, where = [s for _path, labelled in sets for s in labelled], ", ".join(str(p) for p, _ in sets)
    else:
        statements = kb_statements(knowledge_base)
        where = "statements/locked/*.yaml" if mode == "locked" else "statements/*.yaml"
    try:
        require_folds(statements)  # before the model loads
        from kb.check.train import fitted_fit

        fit = fitted_fit(_checker(obj, untrained=True))
        if mode == "cv" and group_by == "source":
            result = cross_validate_by_source(statements, fit, knowledge_base.claim_sources)
            return folded_json(result), by_source_lines(result)
        result = (cross_validate if mode == "cv" else locked_test)(statements, fit)
    except LabelsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if mode == "locked" and not sets:
        from kb.check.published import log_locked_run

        log_locked_run(obj.root, result)
    return folded_json(result), folded_report_lines(result, source=where)


@cli.command()
@click.option("--assign", is_flag=True, help="Write a fold into every statement that has none (in place, one line each) "
              "and move the locked ones into statements/locked/.")
@click.pass_obj
def folds(obj, assign):
    """Show the statements per evaluation fold and verdict; with --assign, first give every statement without a
    fold its group's fold: one page's statements (by url, else who and date) and near-duplicate texts share one.

    This and `kb eval --locked` are the only commands that read statements/locked/: placing a statement needs the
    locked fold's pages and texts, so that copies of one article never sit on both sides. It measures nothing.
    """
    from kb.build import load_valid
    from kb.folds import FoldError, assign_folds, fold_counts, report_lines

    with exit_on_invalid_data():
        knowledge_base = load_valid(obj.root, locked=True)
        if assign:
            from kb.check.embed import MiniLMEmbedder

            texts = [s.text for s in knowledge_base.statements.values()]
            try:
                report = assign_folds(obj.root, knowledge_base, MiniLMEmbedder().encode(texts))
            except FoldError as exc:
                click.echo(str(exc), err=True)
                sys.exit(1)
            for rel, count in sorted(report.assigned.items()):
                click.echo(f"{rel}: {count} fold line(s) added")
            if not report.assigned:
                click.echo("Every statement already has a fold.")
        else:
            report = fold_counts(knowledge_base.statements.values())
    click.echo("\n".join(report_lines(report)))


@cli.command()
@click.argument("labels", nargs=-1, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the weights (default: kb/check/weights.json, which the checker loads).")
@click.option("--no-knowledge-base", "without_kb", is_flag=True,
              help="Do not add the knowledge base's own faithful wordings as training examples.")
@click.pass_obj
def train(obj, labels, output, without_kb):
    """Fit the checker's weights on labelled statements and write them as a small JSON file.

    Trains on the knowledge base's statements in folds cv1-cv5 (never the locked fold), any extra LABELS
    files, and (unless --no-knowledge-base) every claim's faithful wording. Needs scikit-learn (the `train`
    extra); checking does not.
    """
    from kb.check.evaluate import LabelsError, load_labels
    from kb.check.fitted import WEIGHTS_PATH
    from kb.check.train import adapter_cross_validation, dumps, fit_weights, training_statements

    try:
        extra = [s for path in labels for s in load_labels(path)]
    except LabelsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    checker = _checker(obj, untrained=True).remembering_vectors()  # fitting and the adapter's figures: one encode
    statements = training_statements(checker.kb) + extra
    weights = fit_weights(checker, statements, not without_kb, {"labels": [str(p) for p in labels]})
    if weights.get("adapter"):  # the manifest says what the adapter buys, cross-validated on the same statements
        weights["adapter"]["manifest"]["cross_validated"] = adapter_cross_validation(checker, statements)
    target = output or WEIGHTS_PATH
    target.write_text(dumps(weights), encoding="utf-8")
    meta = weights["meta"]
    click.echo(f"Fitted on {len(statements)} labelled statements ({meta['finding_examples']} candidate findings, "
               f"{meta['key_examples']} key conditions); wrote {target}.")


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", required=True, help="The folder to write findings/, summary/ and errors.jsonl to (resumable).")
@click.option("--text-field", default="text", show_default=True, help="The field (column) holding the text.")
@click.option("--id-field", default="id", show_default=True, help="The field holding the text's id (default id: file:line).")
@click.option("--time-field", default="date", show_default=True, help="The field holding the text's date (ISO date or time).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this machine, streaming; ray: Ray Data (pip install -e '.[scale]'; RAY_ADDRESS for a cluster).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Checker processes (local) or Ray actors [default: one per two cores, at least 1].")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Texts per checker batch (after the prefilter).")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar on stderr (default: when stderr is a terminal).")
@click.option("--paragraphs", is_flag=True, help="In .txt files, texts are separated by blank lines "
              "(default: one text per line).")
@click.pass_obj
def scan(obj, inputs, out, text_field, id_field, time_field, engine, workers, batch_size, progress, paragraphs):
    """Scan a corpus: which claims it reports, how often without their conditions, week by week.

    INPUT: JSONL (.jsonl, .ndjson, also .gz), Parquet, CSV or text (.txt: a text per line, or per paragraph with
    --paragraphs) files, or folders of them. A row or file that cannot be read is listed in errors.jsonl and the
    scan goes on. Exit status: 0 when the scan finished (whatever it flagged), 2 on a usage error, 3 on an internal
    error.
    """
    from kb.scan import ScanOptions, UsageError, scan as run_scan

    options = ScanOptions(list(inputs), out, text_field, id_field, time_field, engine, workers, batch_size, obj.root,
                          paragraphs)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        with exit_on_invalid_data(status=2):
            report = run_scan(options, progress=show)
    except UsageError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 (a monitor reports an internal failure with its own status)
        import traceback

        traceback.print_exc()
        click.secho(f"Internal error: {exc}", fg="red", err=True)
        sys.exit(3)
    if report.files_skipped:
        click.echo(f"resumed: {len(report.files_skipped)} input file(s) were already scanned into {out}")
    if report.errors:
        click.echo(f"{report.errors:,} unreadable row(s): see {Path(out) / 'errors.jsonl'}")
    if report.repeats:
        click.echo(f"{report.repeats:,} of the texts that passed the prefilter repeated one already checked "
                   "(answered from the checker's cache)")
    click.echo(report.line())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on (0 picks a free one).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Database to serve (default build/kb.db).")
@click.option("--site/--no-site", default=True, show_default=True,
              help="Also serve the explainer site under /site/ (built first when missing or older than the data).")
@click.option("--base-url", help="The public origin absolute URLs (ClaimReview) are made from, e.g. "
              "https://caveat.example.org (default http://HOST:PORT). Never taken from the request's Host header.")
@click.pass_obj
def serve(obj, host, port, db, site, base_url):
    """Serve the knowledge base: browse claims, check a draft at /-/check, see the graph, read the site at /site/.

    Builds the database and the site first if they are missing or older than the data.
    """
    from kb.publish.serve import ServeError, serve as run_serve
    from kb.publish.sitegen.site_data import SiteError

    try:
        with exit_on_invalid_data():
            run_serve(obj.root, host=host, port=port, db=db, site=site, base_url=base_url)
    except (ServeError, SiteError) as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(1)


@cli.command()
@click.option("--serve", "preview", is_flag=True, help="Preview the site (default http://127.0.0.1:8000) instead of only building it.")
@click.option("--port", default=8000, show_default=True, type=int, help="With --serve: the port to preview on (0 picks a free one).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Where to build (default build/site).")
@click.pass_obj
def site(obj, preview, port, out):
    """Generate the explainer site's pages from the data and build it with mkdocs (strict) into build/site/."""
    from kb.publish.site import build_site, serve_site
    from kb.publish.sitegen.site_data import SiteError

    try:
        with exit_on_invalid_data():
            if preview:
                serve_site(obj.root, port=port, out=out, echo=click.echo)
            else:
                click.echo(f"Built the site in {build_site(obj.root, out)}.")
    except SiteError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(1)
    except OSError as exc:  # the preview port is taken
        click.secho(f"Error: cannot serve the site on port {port} ({exc.strerror}); pass --port N (0: any free port).",
                    fg="red", err=True)
        sys.exit(1)


def main():
    cli(prog_name="kb")


if __name__ == "__main__":
    main()
