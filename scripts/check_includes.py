#!/usr/bin/env python3
"""Checks the book's {{#include}} directives, which mdbook itself does not.

mdbook exits 0 when an included file is missing, and an anchor that does not
exist silently renders as an empty code block. This script fails instead:

* every `{{#include PATH}}`, `{{#include PATH:ANCHOR}}`,
  `{{#include PATH:START:END}}` (and the same for `#rustdoc_include`) in the
  book's Markdown names a file that exists, relative to the page;
* a named anchor has exactly one `ANCHOR: name` line and a later
  `ANCHOR_END: name` line in that file, and the lines between them (other
  anchor markers removed) are not all blank;
* a line range lies inside the file and is not blank;
* every ```rust block in the book consists of include directives only: listings
  come from compiled source, they are never pasted.

Escaped directives (`\\{{#include ...}}`) are ignored, as mdbook ignores them.

Usage: check_includes.py [BOOK_SRC_DIR]   (default: book/src next to this script)
Exit status: 0 if everything is fine, 1 otherwise (each problem printed as
FILE:LINE: message).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DIRECTIVE = re.compile(r"(?<!\\)\{\{#(include|rustdoc_include)\s+([^}]+?)\s*\}\}")
# mdbook's own anchor syntax: `ANCHOR: name` / `ANCHOR_END: name`, name = [\w_-]+
ANCHOR_START = re.compile(r"ANCHOR:\s*([\w_-]+)")
ANCHOR_END = re.compile(r"ANCHOR_END:\s*([\w_-]+)")
ANY_ANCHOR = re.compile(r"ANCHOR(_END)?:\s*[\w_-]+")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def parse_target(spec: str) -> tuple[str, list[str]]:
    """Splits `path:a:b` into the path and the selector parts."""
    parts = spec.split(":")
    return parts[0], parts[1:]


def check_anchor(target: Path, name: str) -> str | None:
    lines = target.read_text(encoding="utf-8").splitlines()
    starts = [i for i, l in enumerate(lines) if (m := ANCHOR_START.search(l)) and m.group(1) == name
              and not ANCHOR_END.search(l)]
    ends = [i for i, l in enumerate(lines) if (m := ANCHOR_END.search(l)) and m.group(1) == name]
    if not starts:
        return f"anchor '{name}' not found in {target}"
    if len(starts) > 1:
        return f"anchor '{name}' starts {len(starts)} times in {target}"
    start = starts[0]
    later_ends = [e for e in ends if e > start]
    if not later_ends:
        return f"anchor '{name}' in {target} has no ANCHOR_END after line {start + 1}"
    body = [l for l in lines[start + 1:later_ends[0]] if not ANY_ANCHOR.search(l)]
    if not any(l.strip() for l in body):
        return f"anchor '{name}' in {target} is empty"
    return None


def check_range(target: Path, sel: list[str]) -> str | None:
    lines = target.read_text(encoding="utf-8").splitlines()
    try:
        start = int(sel[0]) if sel[0] else 1
        end = int(sel[1]) if len(sel) > 1 and sel[1] else len(lines)
    except ValueError:
        return f"bad line range '{':'.join(sel)}'"
    if len(sel) == 1:  # `path:N` means from line N to the end in mdbook
        end = len(lines)
    if start < 1 or end > len(lines) or start > end:
        return f"line range {start}-{end} outside {target} ({len(lines)} lines)"
    if not any(l.strip() for l in lines[start - 1:end]):
        return f"line range {start}-{end} of {target} is blank"
    return None


def check_file(md: Path) -> list[str]:
    problems = []
    text = md.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in DIRECTIVE.finditer(line):
            path, sel = parse_target(m.group(2))
            target = (md.parent / path).resolve()
            where = f"{md}:{lineno}"
            if not target.is_file():
                problems.append(f"{where}: included file does not exist: {path}")
                continue
            if not sel:
                if not target.read_text(encoding="utf-8").strip():
                    problems.append(f"{where}: included file is empty: {path}")
                continue
            if sel[0] and not sel[0].isdigit():
                err = check_anchor(target, sel[0])
            else:
                err = check_range(target, sel)
            if err:
                problems.append(f"{where}: {err}")
    problems.extend(check_no_pasted_rust(md, text))
    return problems


def check_no_pasted_rust(md: Path, text: str) -> list[str]:
    """Every ```rust block holds include directives and nothing else."""
    problems = []
    fence = None  # (marker, info, start line, body lines)
    for lineno, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence = (m.group(2), m.group(3).strip(), lineno, [])
            continue
        marker, info, start, body = fence
        if m and m.group(2).startswith(marker[0]) and len(m.group(2)) >= len(marker) and not m.group(3).strip():
            lang = info.split(",")[0].split()[0] if info else ""
            if lang == "rust":
                rest = [l for l in body if l.strip() and not DIRECTIVE.fullmatch(l.strip())]
                if rest:
                    problems.append(f"{md}:{start}: rust block with pasted code (use {{{{#include}}}}): {rest[0].strip()[:60]}")
                elif not body or not any(l.strip() for l in body):
                    problems.append(f"{md}:{start}: empty rust block")
            fence = None
        else:
            body.append(line)
    if fence is not None:
        problems.append(f"{md}:{fence[2]}: code block never closed")
    return problems


def main() -> int:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "book" / "src"
    if not src.is_dir():
        print(f"check_includes: no such directory: {src}", file=sys.stderr)
        return 1
    pages = sorted(src.rglob("*.md"))
    problems = []
    count = 0
    for md in pages:
        problems.extend(check_file(md))
        count += sum(len(DIRECTIVE.findall(l)) for l in md.read_text(encoding="utf-8").splitlines())
    for p in problems:
        print(p)
    if problems:
        print(f"check_includes: {len(problems)} problem(s) in {len(pages)} pages", file=sys.stderr)
        return 1
    print(f"check_includes: {count} includes in {len(pages)} pages, all present and non-empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
