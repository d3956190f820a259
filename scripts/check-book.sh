#!/usr/bin/env bash
# Checks the book (book/) the way CI does:
#
#   1. `mdbook build book`: fails on a non-zero exit or any ERROR/WARN line in
#      its log (mdbook exits 0 on a missing include file).
#   2. scripts/check_includes.py: every {{#include}} file and anchor exists and
#      is non-empty (mdbook renders an unknown anchor as an empty block), and no
#      Rust listing is pasted instead of included.
#   3. mdbook-linkcheck2 --standalone book: every link to a page or file;
#      scripts/check_fragments.py: every #fragment (linkcheck2 does not check
#      those) points to an id that exists on the built target page.
#   4. scripts/check_book_browser.py: headless Chromium (one process, pages
#      served on a local port) loads every chapter, every mermaid diagram
#      renders to SVG (drawn by book/mermaid-init.js, no preprocessor), no
#      uncaught JavaScript error, search finds a word; screenshots of the
#      pages with diagrams go to target/book-screenshots/.
#
# Installs what it needs when missing: the pinned cargo tools through
# scripts/install-book-tools.sh, and Debian's chromium through apt-get.
#
# Usage: scripts/check-book.sh            # everything
#        scripts/check-book.sh --no-browser  # steps 1-3 only (no chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

browser=1
for arg in "$@"; do
  case "$arg" in
    --no-browser) browser=0 ;;
    *)
      echo "check-book: unknown argument '$arg'" >&2
      exit 2
      ;;
  esac
done

step() { printf '\n--- check-book: %s (%ss)\n' "$1" "$SECONDS"; }

step "tools"
install_args=()
if [ "$browser" -eq 1 ]; then install_args+=(--with-chromium); fi
bash scripts/install-book-tools.sh "${install_args[@]}"

step "mdbook build"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! mdbook build book >"$log" 2>&1; then
  cat "$log"
  echo "check-book: mdbook build failed" >&2
  exit 1
fi
cat "$log"
if grep -E '(^|[^A-Za-z])(ERROR|WARN)([^A-Za-z]|$)|^Warning|^error|^warning' "$log"; then
  echo "check-book: mdbook build logged errors or warnings (above)" >&2
  exit 1
fi

step "includes and anchors"
python3 scripts/check_includes.py book/src

step "links"
mdbook-linkcheck2 --standalone --no-cache --colour never book
python3 scripts/check_fragments.py book/book

if [ "$browser" -eq 1 ]; then
  step "headless chromium"
  python3 scripts/check_book_browser.py --book-dir book/book --src book/src --word epoll \
    --screenshots target/book-screenshots
fi

step "done"
