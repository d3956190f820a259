#!/usr/bin/env bash
# Installs the tools that check the book in CI (scripts/check-book.sh):
#
#   mdbook             0.5.4   builds and serves the book (`mdbook serve book`)
#   mdbook-linkcheck2  0.13.0  checks every link in the book (CI only)
#   chromium           (apt)   only with --with-chromium: the headless smoke test
#
# Reading the book needs only the first one: `cargo install mdbook --locked
# --version 0.5.4`, then `mdbook serve book`. The ```mermaid diagrams need no
# preprocessor (book/mermaid-init.js draws them in the browser).
#
# Versions are pinned and installed with `cargo install --locked`, so every
# machine builds the same binaries. A tool already present at the pinned version
# is skipped, so running this again takes about a second. The first run compiles
# from source: on a shared 2-core machine mdbook took 2 min 11 s and
# mdbook-linkcheck2 2 min 22 s of cargo build; `--with-chromium` adds about
# 30 s of apt-get.
#
# Usage:  scripts/install-book-tools.sh                 # the two cargo tools
#         scripts/install-book-tools.sh --with-chromium # ... and Debian's chromium
#
# Set CARGO_INSTALL_ROOT to install somewhere other than ~/.cargo.
set -euo pipefail

MDBOOK_VERSION=0.5.4
LINKCHECK_VERSION=0.13.0

with_chromium=0
for arg in "$@"; do
  case "$arg" in
    --with-chromium) with_chromium=1 ;;
    -h | --help)
      sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install-book-tools: unknown argument '$arg'" >&2
      exit 2
      ;;
  esac
done

bin_dir="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
export PATH="$bin_dir:$PATH"

# have TOOL VERSION: is TOOL on PATH and does `TOOL --version` mention VERSION?
have() {
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

install_crate() {
  local crate=$1 version=$2
  if have "$crate" "$version"; then
    echo "install-book-tools: $crate $version already installed"
    return 0
  fi
  echo "install-book-tools: cargo install --locked $crate@$version (this compiles; minutes)"
  local start=$SECONDS
  cargo install --locked --quiet "$crate" --version "=$version"
  echo "install-book-tools: $crate $version installed in $((SECONDS - start)) s"
}

install_crate mdbook "$MDBOOK_VERSION"
install_crate mdbook-linkcheck2 "$LINKCHECK_VERSION"

if [ "$with_chromium" -eq 1 ]; then
  if command -v chromium >/dev/null 2>&1; then
    echo "install-book-tools: chromium already installed"
  else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "install-book-tools: apt-get install chromium"
    ok=0
    for attempt in 1 2 3; do
      if $SUDO apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
        ok=1
        break
      fi
      echo "install-book-tools: apt-get failed (attempt $attempt), retrying" >&2
      sleep 5
    done
    if [ "$ok" -ne 1 ]; then
      echo "install-book-tools: could not install chromium" >&2
      exit 1
    fi
  fi
fi

if ! command -v mdbook >/dev/null 2>&1 || [ "$(command -v mdbook)" != "$bin_dir/mdbook" ]; then
  echo "install-book-tools: note: add $bin_dir to your PATH" >&2
fi
echo "install-book-tools: done (mdbook serve book  ->  http://localhost:3000)"
