"""Load the knowledge base's YAML safely, keeping the line of every mapping, key and item.

Loading never raises for a data mistake: unreadable files, YAML syntax errors, duplicate
keys and anchors/aliases become `Problem`s naming the file and line, and the rest of the
tree still loads, so `kb validate` can report every mistake in one run.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.events import AliasEvent
from yaml.resolver import Resolver

from kb.problems import Problem

MAX_FILE_BYTES = 5_000_000  # the largest claims file today is ~150 kB; anything near this is a mistake
MAX_INT_DIGITS = 4_000  # Python refuses to convert integers of over 4,300 digits; no count in the data needs 20
# What YAML accepts as text (YAML 1.1, 5.1): a character outside this set anywhere, even in a comment, stops its reader.
NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
FILE_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket",
              stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


class Node(dict):
    """A YAML mapping that remembers where it and each of its keys start (1-based lines)."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class NodeList(list):
    """A YAML sequence that remembers the line of each item."""

    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
BOOL_TAG = "tag:yaml.org,2002:bool"
TRUE_OR_FALSE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def _safe_resolvers() -> dict:
    """SafeLoader's implicit resolvers, without timestamps and with only true/false as booleans.

    Dates stay strings (we validate their format ourselves), and YAML 1.1's yes/no/on/off stay words:
    'no' stays the word 'no'.
    """
    resolvers = {}
    for first, pairs in Resolver.yaml_implicit_resolvers.items():
        kept = [(tag, rx) for tag, rx in pairs if tag not in (TIMESTAMP_TAG, BOOL_TAG)]
        if first in ("t", "T", "f", "F"):  # the first letters of true and false
            kept.append((BOOL_TAG, TRUE_OR_FALSE))
        if kept:
            resolvers[first] = kept
    return resolvers


class _LineLoader(yaml.SafeLoader):
    yaml_implicit_resolvers = _safe_resolvers()

    def __init__(self, stream, rel: str):
        super().__init__(stream)
        self.rel = rel
        self.problems: list[Problem] = []

    def compose_node(self, parent, index):
        # Aliases let a few lines expand into gigabytes ("billion laughs"); curated data never needs them.
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(problem="YAML aliases (*name) are not allowed", problem_mark=event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        mapping = Node()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float)):
                self.problems.append(Problem(self.rel, line, "E012", "", f"a mapping key must be text, got {key!r}",
                                             "write the key as plain text"))
                continue
            key = str(key)
            if key in mapping:
                self.problems.append(Problem(
                    self.rel, line, "E003", key, f"duplicate key '{key}' (first at line {mapping.key_lines[key]}); "
                    "YAML would silently keep only one of them", "remove or rename one of the two"))
                continue
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = line
        return mapping

    def construct_sequence(self, node, deep=False):
        items = NodeList(self.construct_object(child, deep=True) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items


    def construct_yaml_int(self, node):
        # int() refuses over 4,300 digits with a ValueError, and a long one would cost quadratic time anyway.
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > MAX_INT_DIGITS:
            self.problems.append(Problem(self.rel, node.start_mark.line + 1, "E012", "",
                                         f"an integer of {digits:,} digits (the limit is {MAX_INT_DIGITS:,})",
                                         "write the number the source gives; quote it if it is meant as text"))
            return None
        return super().construct_yaml_int(node)


_LineLoader.add_constructor("tag:yaml.org,2002:int", _LineLoader.construct_yaml_int)
_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)


@dataclass
class LoadedFile:
    path: Path
    rel: str  # path relative to the knowledge-base root, as shown in messages
    data: object = None
    problems: list[Problem] = field(default_factory=list)


def read_text(path: Path, rel: str, root: Path | None = None) -> tuple[str | None, Problem | None]:
    """Read a file as UTF-8 text, or say clearly why it is not usable text.

    Only regular files inside `root` (when given) are read: a symlink out of the knowledge base, a named pipe
    (reading it would wait forever) or a device is refused before anything is read.
    """
    if root is not None and not _inside(path, root):
        return None, Problem(rel, 1, "E001", "", f"the file is a link to {os.path.realpath(path)}, outside the "
                             "knowledge base", "copy the file into the repository instead of linking to it")
    raw, problem = _read_regular(path, rel)
    if problem:
        return None, problem
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        return None, Problem(rel, line, "E001", "", "file contains NUL bytes: it looks binary, not YAML text",
                             "replace it with the YAML text file it should be")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, Problem(rel, line, "E001", "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                             "save the file as UTF-8")
    bad = NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        return None, Problem(rel, line, "E001", "", f"control character U+{ord(bad.group()):04X} at column {column} "
                             "(YAML allows none, not even in a comment)",
                             "delete it, or write it as an escape such as \\t inside a double-quoted string")
    return text, None


def _inside(path: Path, root: Path) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _read_regular(path: Path, rel: str) -> tuple[bytes | None, Problem | None]:
    """The bytes of a regular file of at most MAX_FILE_BYTES; opened without blocking, so a FIFO cannot hang us."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, Problem(rel, 1, "E001", "", f"cannot read the file ({exc.strerror})",
                             "check the file exists and is readable (chmod a+r)")
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
            return None, Problem(rel, 1, "E001", "", f"the path is {kind}, not a file of YAML text",
                                 "replace it with a regular YAML file, or remove it")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, Problem(rel, 1, "E001", "", f"cannot read the file ({exc.strerror})",
                             "check the file exists and is readable (chmod a+r)")
    finally:
        os.close(fd)
    if len(raw) > MAX_FILE_BYTES:
        return None, Problem(rel, 1, "E001", "", f"file is over the {MAX_FILE_BYTES:,}-byte limit",
                             "split it into several files (one per source)")
    return raw, None


def load_yaml(path: Path, rel: str, root: Path | None = None) -> LoadedFile:
    """Parse one YAML file into Node/NodeList values with line numbers, collecting problems.

    With `root`, a file that resolves outside it (a symlink out of the knowledge base) is refused."""
    loaded = LoadedFile(path, rel)
    text, problem = read_text(path, rel, root)
    if problem:
        loaded.problems.append(problem)
        return loaded
    if not text.strip():
        loaded.problems.append(Problem(rel, 1, "E001", "", "file is empty", "add the records, or delete the file"))
        return loaded
    loader = _LineLoader(text, rel)
    try:
        loaded.data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        # Report where the broken construct starts (an unclosed '['), and where the parser noticed, if later.
        mark = exc.context_mark or exc.problem_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(filter(None, [exc.context, exc.problem]))
        if exc.problem_mark and exc.problem_mark.line + 1 != line:
            what += f" (noticed at line {exc.problem_mark.line + 1})"
        fix = ("write the value out in full where the alias is" if "alias" in what
               else "fix the YAML at this line (check indentation, quotes and colons)")
        loaded.problems.append(Problem(rel, line, "E002", "", f"YAML syntax error: {what}", fix))
    except yaml.YAMLError as exc:  # reader/scanner errors without a mark (e.g. control characters)
        loaded.problems.append(Problem(rel, 1, "E002", "", f"YAML error: {exc}", "fix the YAML text"))
    except RecursionError:
        loaded.problems.append(Problem(rel, 1, "E002", "", "YAML nested too deeply", "flatten the structure"))
    except (ValueError, OverflowError) as exc:  # a scalar YAML resolves to a type it cannot hold
        loaded.problems.append(Problem(rel, 1, "E002", "", f"YAML value cannot be read ({exc})",
                                       "write the value as plain text in quotes"))
    finally:
        loader.dispose()
    loaded.problems.extend(loader.problems)
    return loaded
