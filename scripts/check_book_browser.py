#!/usr/bin/env python3
"""Smoke test of the built book in headless Chromium (Debian's `chromium`).

Serves the HTML that `mdbook build book` wrote on a local HTTP port and checks
what only a browser can tell:

1. every chapter page loads: after its scripts ran, its <main> has an <h1>
   matching the summary, and the console shows no uncaught JavaScript error;
2. every ```mermaid block of the book renders to an SVG diagram, and none
   renders as mermaid's "Syntax error" picture;
3. search works: `index.html?search=WORD` fills the search results list
   with links to chapters;
4. with --screenshots DIR: one PNG per page that has diagrams, scrolled to
   its first diagram, for a person to look at (CI keeps them as artifacts).

The diagrams are drawn by book/mermaid-init.js from mdBook's plain
`code.language-mermaid` listings (no mdbook-mermaid preprocessor), so check 2
fails when that script does not find them, and on a diagram that does not
parse (mermaid draws its "Syntax error" picture and rejects its promise).

To keep it fast, one Chromium process does all of it: a small harness page
loads the chapters in iframes (same origin, so it can inspect them) and
writes what it found into its own DOM, which `--dump-dom` prints.

Usage: check_book_browser.py [--book-dir book/book] [--src book/src]
                             [--word epoll] [--jobs 4] [--screenshots DIR]
Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]

# The harness: loads each page in an iframe (JOBS at a time), waits until its
# mermaid blocks are rendered (or 10 s pass), records what it sees, and at the
# end writes the records as JSON into <pre id="results">.
HARNESS = """<!doctype html><meta charset="utf-8"><title>book smoke test</title>
<pre id="results">running</pre>
<script>
const PAGES = %(pages)s, JOBS = %(jobs)d;
const sleep = ms => new Promise(r => setTimeout(r, ms));
function load(url) {
  return new Promise(resolve => {
    const f = document.createElement('iframe');
    f.style.width = '1200px'; f.style.height = '900px';
    f.onload = () => resolve(f);
    f.src = url;
    document.body.appendChild(f);
  });
}
async function inspect(page) {
  const f = await load('book/' + page);
  const d = f.contentDocument;
  const rec = {page, ok: !!d};
  if (d) {
    for (let i = 0; i < 100; i++) {            // up to 10 s for mermaid
      const pending = [...d.querySelectorAll('pre.mermaid')].filter(p => !p.querySelector('svg'));
      if (pending.length === 0) break;
      await sleep(100);
    }
    const main = d.querySelector('main');
    const h1 = main && main.querySelector('h1');
    rec.h1 = h1 ? h1.textContent.trim() : '';
    const blocks = [...d.querySelectorAll('pre.mermaid')];
    rec.mermaid = blocks.length;
    rec.svg = blocks.filter(p => p.querySelector('svg')).length;
    rec.mermaid_errors = blocks
      .map((p, i) => [i + 1, p.querySelector('svg[aria-roledescription="error"], .error-text')])
      .filter(([i, e]) => e)
      .map(([i, e]) => 'diagram ' + i + ': ' +
        [...e.ownerSVGElement ? e.ownerSVGElement.querySelectorAll('text') : e.querySelectorAll('text')]
          .map(t => t.textContent).join(' ').slice(0, 100));
    if (page.includes('?search=')) {
      for (let i = 0; i < 100; i++) {          // up to 10 s for the index
        if (d.querySelector('#mdbook-searchresults li a')) break;
        await sleep(100);
      }
      rec.search_hits = [...d.querySelectorAll('#mdbook-searchresults li a')]
        .map(a => a.getAttribute('href'));
    }
  }
  f.remove();
  return rec;
}
(async () => {
  const queue = PAGES.slice(), out = [];
  async function worker() { while (queue.length) out.push(await inspect(queue.shift())); }
  await Promise.all(Array.from({length: JOBS}, worker));
  document.getElementById('results').textContent = JSON.stringify(out);
})();
</script>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_book_browser: chromium not found (apt-get install -y chromium)")


def dump_dom(url: str, budget_ms: int) -> tuple[str, str]:
    """Loads `url`, lets scripts run for up to `budget_ms` of virtual time,
    returns (the serialised DOM, the browser's log)."""
    with tempfile.TemporaryDirectory(prefix="book-chromium-") as profile:
        cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="disabled:")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        return proc.stdout, proc.stderr


# One page in a full-window iframe, scrolled to its first diagram once every
# diagram is drawn (or after 10 s), for `chromium --screenshot`.
SHOT = """<!doctype html><meta charset="utf-8"><title>diagram screenshot</title>
<style>html,body{margin:0;height:100%%}iframe{border:0;width:100%%;height:100%%}</style>
<iframe src="book/%(page)s"></iframe>
<script>
const f = document.querySelector('iframe');
f.onload = async () => {
  const d = f.contentDocument;
  for (let i = 0; i < 100; i++) {
    if (![...d.querySelectorAll('pre.mermaid')].some(p => !p.querySelector('svg'))) break;
    await new Promise(r => setTimeout(r, 100));
  }
  await new Promise(r => setTimeout(r, 500));   // let the page settle first
  const first = d.querySelector('pre.mermaid'), w = f.contentWindow;
  if (first) w.scrollTo(0, first.getBoundingClientRect().top + w.scrollY - 80);
};
</script>
"""


def screenshot(url: str, png: Path) -> bool:
    """Saves what `url` shows in a 1280x1600 window after its scripts ran."""
    with tempfile.TemporaryDirectory(prefix="book-chromium-") as profile:
        cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               "--virtual-time-budget=15000", "--hide-scrollbars",
               "--window-size=1280,1600", f"--screenshot={png}", url]
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="disabled:")
        subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    return png.is_file() and png.stat().st_size > 0


def console_errors(log: str) -> list[str]:
    """Uncaught JavaScript errors from Chromium's console log lines."""
    out = []
    for line in log.splitlines():
        if "CONSOLE" in line and re.search(r"Uncaught|TypeError|ReferenceError|SyntaxError", line):
            out.append(line.strip()[:200])
    return out


def chapter_pages(src: Path) -> list[tuple[str, str]]:
    """(html file, title) for every chapter linked from SUMMARY.md."""
    pages = []
    for m in re.finditer(r"\[([^\]]+)\]\(([^)]+\.md)\)", (src / "SUMMARY.md").read_text()):
        title, path = m.group(1), m.group(2)
        pages.append((path[:-3] + ".html", title))
    return pages


def serve(root: Path) -> ThreadingHTTPServer:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no access log on stderr
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    ap = argparse.ArgumentParser()
    root = Path(__file__).resolve().parent.parent
    ap.add_argument("--book-dir", type=Path, default=root / "book" / "book")
    ap.add_argument("--src", type=Path, default=root / "book" / "src")
    ap.add_argument("--word", default="epoll")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="directory for one PNG per page with diagrams")
    args = ap.parse_args()
    start = time.time()

    book = args.book_dir.resolve()
    if (book / "html" / "index.html").is_file():  # several outputs: book/book/html
        book = book / "html"
    if not (book / "index.html").is_file():
        print(f"check_book_browser: no built book in {book}; run mdbook build book", file=sys.stderr)
        return 1

    pages = chapter_pages(args.src)
    search_page = f"index.html?search={args.word}"
    expected_mermaid = {
        html_name: len(re.findall(r"^\s*```mermaid\s*$", (args.src / (html_name[:-5] + ".md")).read_text(), re.M))
        for html_name, _ in pages
    }

    with tempfile.TemporaryDirectory(prefix="book-smoke-") as tmp:
        site = Path(tmp)
        (site / "book").symlink_to(book, target_is_directory=True)
        names = [p for p, _ in pages] + [search_page]
        (site / "harness.html").write_text(HARNESS % {"pages": json.dumps(names), "jobs": args.jobs})
        with_diagrams = [p for p, _ in pages if expected_mermaid[p] > 0]
        for page in with_diagrams:
            (site / f"shot-{page}").write_text(SHOT % {"page": page})
        server = serve(site)
        shots_missing = []
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            dom, log = dump_dom(f"{base}/harness.html", 600_000)
            if args.screenshots is not None:
                args.screenshots.mkdir(parents=True, exist_ok=True)
                for page in with_diagrams:
                    png = args.screenshots / (page[:-5] + ".png")
                    if not screenshot(f"{base}/shot-{page}", png):
                        shots_missing.append(page)
        finally:
            server.shutdown()

    m = re.search(r'<pre id="results">(.*?)</pre>', dom, re.S)
    raw = html.unescape(m.group(1)) if m else ""
    try:
        records = {r["page"]: r for r in json.loads(raw)}
    except ValueError:
        print(f"check_book_browser: the harness did not finish (got {raw[:200]!r})", file=sys.stderr)
        for e in console_errors(log):
            print(f"  {e}", file=sys.stderr)
        return 1

    problems: list[str] = []
    diagrams = 0
    for page, title in pages:
        r = records.get(page)
        if not r or not r.get("ok"):
            problems.append(f"{page}: did not load")
            continue
        wanted, heading = title.replace("`", "").lower(), r["h1"].lower()
        if not heading:
            problems.append(f"{page}: no <h1> in <main>")
        elif wanted not in heading and heading not in wanted:
            problems.append(f"{page}: heading '{r['h1']}' does not match the summary's '{title}'")
        if r["mermaid"] != expected_mermaid[page]:
            problems.append(f"{page}: {r['mermaid']} mermaid blocks in the page, {expected_mermaid[page]} in the source")
        if r["svg"] != r["mermaid"]:
            problems.append(f"{page}: {r['mermaid'] - r['svg']} of {r['mermaid']} mermaid diagrams not rendered to SVG")
        for e in r["mermaid_errors"]:
            problems.append(f"{page}: mermaid could not draw {e}")
        diagrams += r["svg"] - len(r["mermaid_errors"])
    hits = records.get(search_page, {}).get("search_hits") or []
    if not hits:
        problems.append(f"search: no results for '{args.word}' in index.html?search={args.word}")
    problems.extend(f"console: {e}" for e in console_errors(log))
    problems.extend(f"{p}: no screenshot written" for p in shots_missing)

    if not any(p.split(":")[0].endswith(".html") for p in problems):
        print(f"check_book_browser: {len(pages)} pages loaded, headings match the summary")
    print(f"check_book_browser: {diagrams} mermaid diagrams rendered to SVG "
          f"(sources have {sum(expected_mermaid.values())})")
    if args.screenshots is not None:
        shots = len([p for p in pages if expected_mermaid[p[0]] > 0]) - len(shots_missing)
        print(f"check_book_browser: {shots} screenshots of pages with diagrams in {args.screenshots}")
    if hits:
        print(f"check_book_browser: search for '{args.word}' found {len(hits)} results, first: {hits[0]}")
    for p in problems:
        print(f"  {p}")
    print(f"check_book_browser: {'FAILED' if problems else 'ok'} in {time.time() - start:.0f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
