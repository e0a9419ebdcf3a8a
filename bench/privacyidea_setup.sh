#!/usr/bin/env bash
# Builds a privacyIDEA instance for bench/verifier_bench.py, in its own venv (never the project's), in
# $PI_DIR (default ~/.cache/tracker2fa-bench/privacyidea): venv/ (pip install privacyidea gunicorn),
# pi.cfg (SQLite database, fresh encryption and audit keys), admin-password (a local admin for its REST API).
# verifier_bench.py then starts it with gunicorn, enrols TOTP tokens through /token/init and drives
# /validate/check with the same load generator as the other systems.
# Usage: bash bench/privacyidea_setup.sh   (idempotent; re-running re-creates the database)
set -euo pipefail
cd "$(dirname "$0")"
DIR=${PI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tracker2fa-bench/privacyidea}
PORT=${1:-5077}
PY=${PYTHON:-python3}
mkdir -p "$DIR"
if [ ! -x "$DIR/venv/bin/pi-manage" ]; then
  echo "== venv + pip install privacyidea gunicorn"
  "$PY" -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install -q --upgrade pip
  "$DIR/venv/bin/pip" install -q privacyidea gunicorn
fi
"$DIR/venv/bin/pip" show privacyidea | sed -n 's/^Version: /privacyidea version: /p'

rm -f "$DIR/privacyidea.sqlite" "$DIR/enckey" "$DIR"/*.pem
cat > "$DIR/pi.cfg" <<CFG
SQLALCHEMY_DATABASE_URI = 'sqlite:///$DIR/privacyidea.sqlite'
SECRET_KEY = '$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)'
PI_PEPPER = '$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)'
PI_ENCFILE = '$DIR/enckey'
PI_AUDIT_KEY_PRIVATE = '$DIR/private.pem'
PI_AUDIT_KEY_PUBLIC = '$DIR/public.pem'
PI_LOGFILE = '$DIR/privacyidea.log'
PI_LOGLEVEL = 30
CFG
export PRIVACYIDEA_CONFIGFILE=$DIR/pi.cfg
PM="$DIR/venv/bin/pi-manage"
echo "== create database, keys, admin"
$PM setup create_enckey >/dev/null 2>&1 || $PM create_enckey
$PM setup create_audit_keys >/dev/null 2>&1 || $PM create_audit_keys
$PM setup create_tables >/dev/null 2>&1 || $PM createdb
ADMIN_PW=$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)
$PM admin add benchadmin -p "$ADMIN_PW" >/dev/null
echo "$ADMIN_PW" > "$DIR/admin-password"
chmod 600 "$DIR/admin-password"
echo "== ok: config in $DIR/pi.cfg; start it with:"
echo "   PRIVACYIDEA_CONFIGFILE=$DIR/pi.cfg $DIR/venv/bin/gunicorn -w 2 -b 127.0.0.1:$PORT 'privacyidea.app:create_app()'"
