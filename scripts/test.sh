#!/usr/bin/env bash
# Installs everything the tests need (apt packages, PostgreSQL running, a venv with the dev extras,
# web-ext) and runs every check: ruff, web-ext lint, pytest. Idempotent; quick when already set up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export DEBIAN_FRONTEND=noninteractive

APT_PACKAGES=(chromium chromium-l10n firefox-esr pcscd vsmartcard-vpcd libpcsclite-dev swig)
APT_PACKAGES+=(lintian python3-venv)  # the Debian package (lintian) and the wheel in a fresh venv of Debian's Python (issue 18)
APT_PACKAGES+=(nginx caddy slapd ldap-utils wrk)  # gate tests and bench (issue 20): real proxies, a throwaway LDAP directory
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (for web-ext) come with this kind of machine; Debian's only when they are absent.
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "== apt: installing ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# PostgreSQL: the verifier suite runs against it as well as SQLite, so a server that will not start stops
# the run here. TRACKER2FA_NO_POSTGRES=1 runs without it locally: its tests then skip with the reason shown
# (and fail under CI=true; see tests/conftest.py).
if [ "${TRACKER2FA_NO_POSTGRES:-}" != 1 ]; then
  if ! command -v pg_isready >/dev/null; then
    echo "error: PostgreSQL is not installed (no pg_isready); the verifier tests need it" \
         "(or set TRACKER2FA_NO_POSTGRES=1 to run without it)" >&2
    exit 1
  fi
  if ! pg_isready -q -h 127.0.0.1; then
    echo "== starting PostgreSQL"
    cluster=$(ls /etc/postgresql 2>/dev/null | head -1)
    if [ -n "$cluster" ]; then
      # A failed start is reported by the check below, not ignored: it may also mean "already running".
      pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || echo "pg_ctlcluster: start failed" >&2
      for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
    fi
    if ! pg_isready -q -h 127.0.0.1; then
      echo "error: PostgreSQL is not answering on 127.0.0.1 and could not be started" \
           "(cluster '${cluster:-none}' under /etc/postgresql); the verifier tests need it" \
           "(or set TRACKER2FA_NO_POSTGRES=1 to run without it)" >&2
      exit 1
    fi
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.tracker2fa-deps
want=$(sha256sum pyproject.toml | cut -c1-64)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== pip install -e .[dev]"
  .venv/bin/pip install -q --upgrade pip "setuptools>=77"  # the license field; lets the quick reinstall below build without isolation
  .venv/bin/pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
else
  .venv/bin/pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 || .venv/bin/pip install -q -e ".[dev]"
fi

WEB_EXT_VERSION=10.7.0
if [ ! -x .tools/node_modules/.bin/web-ext ] || \
   [ "$(.tools/node_modules/.bin/web-ext --version 2>/dev/null)" != "$WEB_EXT_VERSION" ]; then
  echo "== npm: web-ext@$WEB_EXT_VERSION"
  npm install --silent --no-audit --no-fund --prefix .tools "web-ext@$WEB_EXT_VERSION" >/dev/null
fi
# axe-core: the accessibility checks injected into the extension's pages in the browser tests.
AXE_VERSION=4.14.1
if [ "$(node -p "require('./.tools/node_modules/axe-core/package.json').version" 2>/dev/null)" != "$AXE_VERSION" ]; then
  echo "== npm: axe-core@$AXE_VERSION"
  npm install --silent --no-audit --no-fund --prefix .tools "axe-core@$AXE_VERSION" >/dev/null
fi

# @simplewebauthn/server: a relying party we did not write, verifying what the extension and host make.
# 13.x: the last line that runs on Node 20 (14 needs Node 22).
SIMPLEWEBAUTHN_VERSION=13.3.1
if [ "$(node -p "require('./.tools/node_modules/@simplewebauthn/server/package.json').version" 2>/dev/null)" != "$SIMPLEWEBAUTHN_VERSION" ]; then
  echo "== npm: @simplewebauthn/server@$SIMPLEWEBAUTHN_VERSION"
  npm install --silent --no-audit --no-fund --prefix .tools "@simplewebauthn/server@$SIMPLEWEBAUTHN_VERSION" >/dev/null
fi

echo "== ruff"
.venv/bin/ruff check .
echo "== web-ext lint"
.tools/node_modules/.bin/web-ext lint --source-dir extension --self-hosted --output text
echo "== pytest"
export PATH="$ROOT/.venv/bin:$PATH"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
