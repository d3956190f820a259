#!/usr/bin/env python3
"""Checks the `#fragment` part of the book's internal links.

mdbook-linkcheck2 checks that a linked page exists, but not that the heading
a link points into (`faq.md#why-...`) exists on it: a renamed heading breaks
such links silently. This script reads the built HTML and checks every
`href="page.html#id"` and `href="#id"` inside each page's <main> against the
ids of the target page.

Usage: check_fragments.py [BUILD_DIR]   (default: book/book next to this script)
Exit status: 0 if every fragment exists, 1 otherwise.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

HREF = re.compile(r'href="([^"]+)"')
ID = re.compile(r'\bid="([^"]+)"')


def main() -> int:
    build = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "book" / "book"
    if (build / "html" / "index.html").is_file():
        build = build / "html"
    pages = {p.relative_to(build).as_posix(): p.read_text(encoding="utf-8") for p in build.rglob("*.html")}
    if not pages:
        print(f"check_fragments: no HTML in {build}; run mdbook build book", file=sys.stderr)
        return 1
    ids = {name: set(ID.findall(text)) for name, text in pages.items()}
    problems, checked = [], 0
    for name, text in sorted(pages.items()):
        if name in ("print.html", "404.html", "toc.html"):
            continue  # print.html rewrites links; 404 and toc are generated
        main = re.search(r"<main[^>]*>(.*?)</main>", text, re.S)
        for href in HREF.findall(main.group(1) if main else ""):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.fragment:
                continue
            target = (Path(name).parent / unquote(parts.path)).as_posix() if parts.path else name
            target = str(Path(target))  # normalise "./x.html"
            checked += 1
            if target not in ids:
                problems.append(f"{name}: link to missing page {href}")
            elif unquote(parts.fragment) not in ids[target]:
                problems.append(f"{name}: no id '{parts.fragment}' on {target} (link {href})")
    for p in problems:
        print(p)
    if problems:
        print(f"check_fragments: {len(problems)} broken fragment link(s)", file=sys.stderr)
        return 1
    print(f"check_fragments: {checked} links with fragments, all point to existing ids")
    return 0


if __name__ == "__main__":
    sys.exit(main())
