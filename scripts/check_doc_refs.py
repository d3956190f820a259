#!/usr/bin/env python3
"""Fails when a markdown doc names something in the repository that is not there.

Docs drift: a file is renamed, a heading reworded, a command-line flag
dropped, and the README still points at the old one. This check reads

    README.md ARCHITECTURE.md RELIABILITY.md CHANGELOG.md server/README.md
    bench/README.md examples/README.md book/src/*.md

and checks three kinds of reference:

1. paths: every link target `[..](path)` and every inline code span or code
   block word that looks like a repository path (`runtime/src/lib.rs`,
   `scripts/check-book.sh`, `executor/worker.rs`, `tests/loom_*.rs`) must name
   a tracked file or directory: relative to the repository root, to the doc's
   own directory, or as the tail of a tracked path (docs say
   `executor/worker.rs` for `runtime/src/executor/worker.rs`). Globs must
   match at least one tracked file.
2. anchors: `[..](file.md#anchor)` and `[..](#anchor)` must name a heading of
   that markdown file (GitHub's and mdBook's slug rule: lower case, spaces to
   dashes, punctuation dropped).
3. flags: in a command line that runs one of our programs (the server, the
   bench binary, an example, a script under scripts/ or examples/), every
   `--flag` given to that program must appear in the program's source
   (literally, or as a clap field `flag_name` for the Rust binaries). Flags of
   cargo itself and of the test harness are not ours and are not checked.

Usage: scripts/check_doc_refs.py [FILE.md ...]   (default: the docs above)
Exit status 0 when every reference resolves, 1 otherwise (each one listed).
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOCS = [
    "README.md",
    "ARCHITECTURE.md",
    "RELIABILITY.md",
    "CHANGELOG.md",
    "server/README.md",
    "bench/README.md",
    "examples/README.md",
]

# Extensions that make a bare word (`lib.rs`, `faq.md`) a file reference.
FILE_EXT = r"(?:rs|md|toml|sh|py|js|css|lock|json|yml|yaml|txt|svg|csv)"
# A path-looking word: segments of [\w.*-] joined by '/', ending in a known
# extension or a '/', or starting with a top-level directory of ours.
PATH_RE = re.compile(
    r"^(?:\.{1,2}/)?[\w.*-]+(?:/[\w.*-]+)*(?:\." + FILE_EXT + r"|/)$"
)


def tracked() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return [line for line in out.splitlines() if (ROOT / line).exists()]


def main_checkout() -> Path:
    """The main checkout's root: ROOT itself, or for a `git worktree` the
    checkout that owns the repository. Docs link to the project's `shared/`
    directory next to it (`../shared/reverse-protocol.md`), outside the
    repository, and every worktree must resolve such a link the same way."""
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    return Path(common).parent


MAIN = main_checkout()
FILES = tracked()
DIRS = {str(Path(f).parent) for f in FILES}
for d in list(DIRS):
    p = Path(d)
    while str(p) not in (".", ""):
        DIRS.add(str(p))
        p = p.parent
TOP = {f.split("/")[0] for f in FILES}

# Paths in other projects that the docs cite by name, with whose they are.
EXTERNAL = {
    "benches/rt_multi_threaded.rs": "tokio's executor benchmarks",
}

# Words that look like paths but name things that are not repository files:
# build outputs, system paths, other machines' paths, placeholders.
SKIP_PREFIXES = ("target/", "book/book", "/", "~", "$", "http:", "https:", "./target", "..")


def slug(heading: str) -> str:
    """GitHub's and mdBook's id for a heading."""
    text = re.sub(r"<[^>]+>", "", heading)          # inline html
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links -> their text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(path: Path) -> set[str]:
    ids: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            ids.add(base if n == 0 else f"{base}-{n}")
        for explicit in re.findall(r'id="([^"]+)"', line):
            ids.add(explicit)
        m = re.search(r"\{#([\w-]+)\}\s*$", line)   # mdBook's heading {#id}
        if m:
            ids.add(m.group(1))
    return ids


def resolve(word: str, doc: Path) -> str | None:
    """The tracked path `word` names, or None."""
    COUNTS["paths"] += 1
    if word in EXTERNAL:
        return word
    if word.startswith("shared/") and (MAIN.parent / word).exists():
        return word   # the project's shared directory, next to the checkout
    word = word.rstrip("/") if word.endswith("/") and len(word) > 1 else word
    rel_doc = doc.parent.relative_to(ROOT)
    candidates = [word, str((rel_doc / word))]
    for c in candidates:
        c = str(Path(c))
        norm = str(Path(*[p for p in Path(c).parts]))
        try:
            norm = str((ROOT / c).resolve().relative_to(ROOT))
        except ValueError:
            continue
        if any(ch in norm for ch in "*?["):
            if any(fnmatch.fnmatch(f, norm) for f in FILES):
                return norm
            continue
        if norm in FILES or norm in DIRS:
            return norm
    # The tail of a tracked path: `executor/worker.rs`, `faq.md`.
    tail = "/" + word.lstrip("./")
    pattern = "*" + tail
    for f in FILES:
        if any(ch in word for ch in "*?["):
            if fnmatch.fnmatch("/" + f, pattern):
                return f
        elif ("/" + f).endswith(tail):
            return f
    for d in DIRS:
        if ("/" + d).endswith(tail):
            return d
    return None


def looks_like_path(word: str) -> bool:
    if not PATH_RE.match(word) or word.startswith(SKIP_PREFIXES):
        return False
    if "/" not in word and not re.search(r"\." + FILE_EXT + "$", word):
        return False
    if re.search(r"[A-Z]{2,}", word) and not word.endswith(".md"):
        return False   # placeholders such as NAME.rs, FILE.md, TOOL/x
    return True


# Programs of ours that take flags, and the sources their flags are in.
def program_sources(token: str, context: list[str]) -> list[Path] | None:
    if token.startswith(("scripts/", "examples/")) and token.endswith((".sh", ".py")):
        p = ROOT / token
        return [p] if p.is_file() else None
    return None


def rust_sources(directory: str) -> list[Path]:
    return sorted((ROOT / directory).rglob("*.rs"))


def flag_known(flag: str, sources: list[Path]) -> bool:
    field = flag[2:].replace("-", "_")
    for src in sources:
        text = src.read_text(encoding="utf-8", errors="replace")
        if flag in text or (src.suffix == ".rs" and re.search(rf"\b{field}\s*:", text)):
            return True
    return False


# How many references of each kind were checked, for the summary line (a
# check that silently finds nothing to check would pass for the wrong reason).
COUNTS = {"paths": 0, "anchors": 0, "flags": 0}

SEPARATORS = {"|", "||", "&&", ";", "&", "#", "then", "do"}


def check_command(line: str) -> list[str]:
    """Flags in `line` that one of our programs does not know."""
    bad = []
    tokens = line.replace("`", " ").split()
    sources: list[Path] | None = None
    what = ""
    cargo = False          # inside a cargo command, before its `--`
    cargo_target: tuple[str, list[Path]] | None = None
    harness = False        # `cargo test ... --`: the test harness's flags
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in SEPARATORS or t.startswith("#"):
            sources, cargo, cargo_target, harness, what = None, False, None, False, ""
        elif t == "cargo":
            sources, cargo, cargo_target, harness, what = None, True, None, False, ""
            sub = tokens[i + 1] if i + 1 < len(tokens) else ""
            harness = sub in ("test", "bench", "nextest")
        elif cargo and t in ("-p", "--package", "--bin", "--example") and i + 1 < len(tokens):
            name = tokens[i + 1]
            if t == "--example":
                f = ROOT / "examples" / "examples" / f"{name}.rs"
                cargo_target = (f"example {name}", [f] if f.is_file() else [])
            elif name in ("server", "bench"):
                cargo_target = (name, rust_sources(name + "/src"))
            i += 1
        elif cargo and t == "--":
            cargo = False
            if cargo_target and not harness:
                what, sources = cargo_target
        elif not cargo and (t in ("server", "./server") or t.endswith("/server")):
            what, sources = "server", rust_sources("server/src")
        elif not cargo and t in ("bench", "./bench") or t.endswith("release/bench"):
            what, sources = "bench", rust_sources("bench/src")
        elif not cargo and program_sources(t, tokens) is not None:
            what, sources = t, program_sources(t, tokens)
        elif sources is not None and re.fullmatch(r"--[a-z][a-z0-9-]*", t.rstrip(",.:;)")):
            flag = t.rstrip(",.:;)")
            COUNTS["flags"] += 1
            if not flag_known(flag, sources):
                bad.append(f"{what} has no flag {flag}")
        i += 1
    return bad


def check(doc: Path) -> list[str]:
    problems: list[str] = []
    text = doc.read_text(encoding="utf-8")
    name = doc.relative_to(ROOT)
    in_code = False
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{lineno}"
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_code = not in_code
            continue
        # {{#include path:anchor}}: scripts/check_includes.py checks those.
        line_no_includes = re.sub(r"\{\{#\w+ [^}]*\}\}", "", line)
        if in_code:
            words = re.split(r"[\s=\"'(),]+", line_no_includes)
            for w in words:
                w = w.rstrip(":;.")
                if looks_like_path(w) and resolve(w, doc) is None:
                    problems.append(f"{where}: no such file or directory: {w}")
            problems.extend(f"{where}: {b}" for b in check_command(line_no_includes))
            continue
        # Links: [text](target), not images of remote URLs.
        for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", line_no_includes):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, frag = target.partition("#")
            if path:
                if path.startswith(SKIP_PREFIXES[:2]):
                    continue
                COUNTS["paths"] += 1
                found = (doc.parent / path).resolve()
                if not found.exists() and not str(found).startswith(str(ROOT) + "/"):
                    # Outside the repository: resolve it from the main checkout.
                    found = (MAIN / doc.parent.relative_to(ROOT) / path).resolve()
                if not found.exists():
                    problems.append(f"{where}: link to a missing file: {target}")
                    continue
                if not str(found).startswith(str(ROOT)):
                    continue   # outside the repository (../shared/...): not ours
                target_file = found
            else:
                target_file = doc
            if frag and target_file.suffix == ".md":
                COUNTS["anchors"] += 1
            if frag and target_file.suffix == ".md" and frag not in anchors(target_file):
                problems.append(f"{where}: no heading #{frag} in {target_file.relative_to(ROOT)}")
        # Inline code spans.
        for span in re.findall(r"`([^`]+)`", line_no_includes):
            for w in span.split():
                w = w.rstrip(":;.,")
                if looks_like_path(w) and resolve(w, doc) is None:
                    problems.append(f"{where}: no such file or directory: {w}")
            problems.extend(f"{where}: {b}" for b in check_command(span))
    return problems


def main(argv: list[str]) -> int:
    if argv:
        docs = [Path(a).resolve() for a in argv]
    else:
        docs = [ROOT / d for d in DEFAULT_DOCS if (ROOT / d).is_file()]
        docs += sorted((ROOT / "book" / "src").glob("*.md"))
    problems = []
    for doc in docs:
        problems.extend(check(doc))
    for p in problems:
        print(p)
    print(f"check_doc_refs: {len(docs)} docs; checked {COUNTS['paths']} paths, "
          f"{COUNTS['anchors']} anchors, {COUNTS['flags']} flags; "
          f"{len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
