# Sourced by .ci/run: installs (Debian packages) and starts what the full test suite
# uses besides Python: a throwaway PostgreSQL server on 127.0.0.1 and Chromium for
# the browser test. Exports their addresses; the tests skip (with the reason) where
# these variables are unset, so `make test` still runs on a machine without them.

_pk_apt() {  # install missing Debian packages (quietly; no-op when present)
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo ">> apt-get install ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q "${missing[@]}" >/dev/null; }
}

_pk_start_postgres() {
  _pk_apt postgresql
  # globals, not locals: the EXIT trap below runs after this function has returned
  PK_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PK_PG_DIR=$(mktemp -d /tmp/pipeline_kit_pg.XXXXXX)
  PK_PG_PORT=${PIPELINE_KIT_TEST_PG_PORT:-55432}
  PK_PG_RUN=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$PK_PG_DIR"; PK_PG_RUN=(runuser -u postgres --); fi
  "${PK_PG_RUN[@]}" "$PK_PG_BIN/initdb" -D "$PK_PG_DIR/data" -U postgres -A trust >/dev/null
  if ! "${PK_PG_RUN[@]}" "$PK_PG_BIN/pg_ctl" -D "$PK_PG_DIR/data" -l "$PK_PG_DIR/log" -w \
    -o "-h 127.0.0.1 -p $PK_PG_PORT -k $PK_PG_DIR -c fsync=off -c synchronous_commit=off" start >/dev/null; then
    echo ">> PostgreSQL did not start (port $PK_PG_PORT busy? set PIPELINE_KIT_TEST_PG_PORT):" >&2
    tail -5 "$PK_PG_DIR/log" >&2
    rm -rf "$PK_PG_DIR"
    return 1
  fi
  export PIPELINE_KIT_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PK_PG_PORT/postgres"
  echo ">> PostgreSQL on $PIPELINE_KIT_TEST_POSTGRES_URL"
  _pk_stop_postgres() {
    "${PK_PG_RUN[@]}" "$PK_PG_BIN/pg_ctl" -D "$PK_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PK_PG_DIR"
  }
  trap _pk_stop_postgres EXIT
}

_pk_chromium() {
  _pk_apt chromium chromium-driver
  if [ -x /usr/bin/chromium ]; then export PIPELINE_KIT_CHROMIUM=/usr/bin/chromium; fi
}

_pk_start_postgres
_pk_chromium
# In CI a missing service fails its tests instead of skipping them.
export PIPELINE_KIT_REQUIRE_SERVICES=1
