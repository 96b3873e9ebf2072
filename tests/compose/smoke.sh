#!/usr/bin/env bash
# Compose smoke test: the documented deployment path, end to end, on a real Docker engine.
#
#   bash tests/compose/smoke.sh
#
# 1. `docker compose config` is clean and the file keeps its promises (no container_name or
#    host ports on workers, health checks, restart policy, grace period, no .env needed).
# 2. `up --build`, wait until every service is healthy; the image runs as non-root, no compiler.
# 3. A web container on the compose network serves generated article pages; URLs are published
#    with `docker compose run --rm cli publish ...` and read back with `cli status/list/show`.
# 4. `--scale extractor=3`: three consumers in the extractor group share a load of slow pages.
# 5. Prometheus (profile `monitoring`) scrapes every replica: its /api/v1/targets lists one
#    healthy target per container of every service (the three extractors included).
# 6. One extractor is killed (`docker kill`) while it holds messages; the others reclaim and
#    finish them; every article ends `analyzed`.
# 7. `down -v`, also on failure or interruption (trap).
#
# Prints PASS/FAIL lines and exits 1 on the first failure. Where no Docker engine can run, it
# prints `SKIPPED: <reason>` and exits 0.
#
# Environment:
#   NEWSFLOW_SMOKE_STANDINS  path of compose-lab/standins.sh (default ../shared/compose-lab/
#                            standins.sh next to the repository; `none` = use the images as
#                            configured, e.g. the official ones from a registry)
#   NEWSFLOW_SMOKE_TIMEOUT   overall limit in seconds (default 900)
#   NEWSFLOW_SMOKE_KEEP=1    leave the stack running after a failure, for debugging
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tests/compose"
STANDINS=${NEWSFLOW_SMOKE_STANDINS:-$ROOT/../shared/compose-lab/standins.sh}
LIMIT=${NEWSFLOW_SMOKE_TIMEOUT:-900}
KEEP=${NEWSFLOW_SMOKE_KEEP:-0}
PROJECT="newsflow-smoke-$$"
LIGHT=12    # small pages: the basic publish -> analyzed path
HEAVY=24    # slower pages (1200 paragraphs): keep three extractors busy for the kill test
FEED=3      # pages listed in an RSS feed that is added as a source (the feeder queues them)
T0=$SECONDS

# The stack must see only tests/compose/smoke.env, never the caller's NEWSFLOW_* or COMPOSE_*
# variables (CI sets NEWSFLOW_REDIS_URL for other tests, a developer may have COMPOSE_FILE).
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(NEWSFLOW_|COMPOSE_)')
export COMPOSE_BAKE=false   # no buildx here: build with the engine's own BuildKit, quietly

pass() { printf 'PASS: %s\n' "$*"; }
info() { printf '      %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
skip() { printf 'SKIPPED: %s\n' "$*"; exit 0; }
elapsed() { echo $((SECONDS - T0)); }
check_deadline() { [ $((SECONDS - T0)) -lt "$LIMIT" ] || fail "smoke test exceeded ${LIMIT}s"; }

py=$(command -v python3 || true)
[ -n "$py" ] || py="$ROOT/.venv/bin/python"
[ -x "$py" ] || skip "no python3 on this machine to generate the test pages"
# The project's own Python (make test-compose sets it up) reads the declared pipeline.
app_py="$ROOT/.venv/bin/python"
[ -x "$app_py" ] || skip "no $app_py: run make venv first"

# --- a Docker engine, or a clear reason why not ------------------------------------------------
if [ "$STANDINS" != none ] && [ -f "$STANDINS" ]; then
  if ! out=$(bash "$STANDINS" 2>&1); then
    reason=$(printf '%s\n' "$out" | tail -n 1)
    if ! docker info >/dev/null 2>&1; then skip "no Docker engine could be started: $reason"; fi
    skip "stand-in base images could not be built ($STANDINS): $reason"
  fi
  eval "$(bash "$STANDINS" --env)"
fi
command -v docker >/dev/null 2>&1 || skip "the docker CLI is not installed"
if ! err=$(docker info 2>&1 >/dev/null); then
  skip "no Docker engine is reachable: $(printf '%s\n' "$err" | tail -n 1)"
fi
docker compose version >/dev/null 2>&1 || skip "Docker Compose v2 (the 'docker compose' plugin) is not installed"
info "engine $(docker version -f '{{.Server.Version}}' 2>/dev/null), $(docker compose version --short 2>/dev/null | sed 's/^/compose v/')"
info "images: python=${PYTHON_IMAGE:-python:3.12-slim} redis=${REDIS_IMAGE:-redis:7-alpine} mongo=${MONGO_IMAGE:-mongo:8} prometheus=${PROMETHEUS_IMAGE:-prom/prometheus:v2.53.0}"

work=$(mktemp -d "${TMPDIR:-/tmp}/newsflow-smoke.XXXXXX")
export SMOKE_PAGES_DIR="$work/pages"
started=0

dc() {
  docker compose --project-name "$PROJECT" --project-directory "$ROOT" --profile monitoring \
    --env-file "$HERE/smoke.env" -f "$ROOT/docker-compose.yml" -f "$HERE/smoke.compose.yml" "$@"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$started" = 1 ]; then
    if [ "$rc" -ne 0 ]; then
      echo "---- docker compose ps -a ----"; dc ps -a 2>&1 | tail -n 20
      echo "---- last log lines ----"; dc logs --no-color --tail 15 2>&1 | tail -n 80
    fi
    if [ "$rc" -ne 0 ] && [ "$KEEP" = 1 ]; then
      echo "stack left running: docker compose -p $PROJECT ... (NEWSFLOW_SMOKE_KEEP=1)"
    else
      dc down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
      # anything compose did not know about (a half-created stack) still carries the label
      docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" | xargs -r docker rm -f >/dev/null 2>&1
      docker network ls -q --filter "label=com.docker.compose.project=$PROJECT" | xargs -r docker network rm >/dev/null 2>&1
      docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | xargs -r docker volume rm >/dev/null 2>&1
    fi
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM

# --- 1. configuration ---------------------------------------------------------------------------
if ! out=$(dc config -q 2>&1) || [ -n "$out" ]; then fail "docker compose config is not clean: $out"; fi
# The user's path: no .env and no variables at all must still give a valid stack.
if ! out=$(cd "$ROOT" && env -i PATH="$PATH" HOME="${HOME:-/root}" \
           docker compose --env-file /dev/null -f docker-compose.yml config -q 2>&1) || [ -n "$out" ]; then
  fail "docker-compose.yml needs variables or prints warnings without a .env: $out"
fi
if ! out=$(dc --profile tools config --format json 2>&1 | (cd "$ROOT" && "$app_py" -m tests.compose.check_config) 2>&1); then
  fail "compose file: $out"
fi
pass "docker compose config is clean; $out"

# --- 2. pages, network, build, health -----------------------------------------------------------
"$py" "$HERE/make_pages.py" "$SMOKE_PAGES_DIR/light" "$LIGHT" 12 || fail "could not write test pages"
"$py" "$HERE/make_pages.py" "$SMOKE_PAGES_DIR/heavy" "$HEAVY" 1200 || fail "could not write test pages"
"$py" "$HERE/make_pages.py" "$SMOKE_PAGES_DIR/feed" "$FEED" 12 || fail "could not write test pages"
{
  printf '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Smoke Feed</title>'
  for i in $(seq 1 "$FEED"); do
    printf '<item><title>Feed item %d</title><link>http://pages:8080/feed/a%03d.html</link></item>' "$i" "$i"
  done
  printf '</channel></rss>\n'
} > "$SMOKE_PAGES_DIR/feed/feed.xml" || fail "could not write the test feed"
chmod -R a+rX "$work"

started=1
if ! out=$(dc up -d --wait --wait-timeout 120 redis mongo pages prometheus 2>&1); then
  fail "redis/mongo/pages/prometheus did not start: $(printf '%s\n' "$out" | tail -n 5)"
fi
subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "${PROJECT}_default" | awk '{print $1}')
[ -n "$subnet" ] || fail "cannot read the subnet of network ${PROJECT}_default"
# The fetcher refuses private addresses; the test pages live on this one network only.
export NEWSFLOW_FETCH_ALLOWED_NETWORKS="$subnet"
pass "redis and mongo healthy, prometheus started, pages served on network ${PROJECT}_default ($subnet) at $(elapsed)s"

image=$(sed -n 's/^NEWSFLOW_IMAGE=//p' "$HERE/smoke.env")
previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
read -r -a services <<< "$(cd "$ROOT" && "$app_py" -c 'from newsflow.domain.pipeline import SERVICES; print(*(s.name for s in SERVICES))')"
[ -f "$ROOT/services/reader/__main__.py" ] && services+=(reader)
t=$SECONDS
if ! out=$(dc up -d --build --wait --wait-timeout 300 "${services[@]}" 2>&1); then
  fail "stack did not become healthy: $(printf '%s\n' "$out" | grep -v '^#' | tail -n 8)"
fi
pass "built and started ${services[*]}: all healthy after $((SECONDS - t))s"

# The image this run replaced is of no more use (only the cached dependency layer is).
current=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then docker rmi "$previous" >/dev/null 2>&1 || true; fi
user=$(docker run --rm --entrypoint sh "$image" -c 'id -u') || fail "cannot run $image"
compilers=$(docker run --rm --entrypoint sh "$image" -c 'for c in cc gcc c++ g++ clang; do command -v $c; done' || true)
[ "$user" != 0 ] || fail "image $image runs as root"
[ -z "$compilers" ] || fail "image $image ships compilers: $compilers"
pass "image $image runs as uid $user and has no compiler"

# --- helpers that look inside the running stack -------------------------------------------------
redis_id=$(dc ps -q redis)
fetcher_id=$(dc ps -q fetcher | head -n 1)
redis_cli() { docker exec "$redis_id" redis-cli "$@"; }

# Article counts by status (JSON) straight from MongoDB, with the URL the workers use;
# arguments are article ids whose status is reported under "ids". Plain pymongo, no newsflow
# imports: this runs every few seconds on a machine the stack keeps busy.
probe() {
  docker exec -i "$fetcher_id" python - "$@" <<'PY'
import json, os, sys
from pymongo import MongoClient
db = os.environ.get("NEWSFLOW_MONGO_DB") or "newsflow"
name = os.environ.get("NEWSFLOW_MONGO_COLLECTION") or "articles"
col = MongoClient(os.environ["NEWSFLOW_MONGO_URL"], serverSelectionTimeoutMS=5000)[db][name]
by = {d["_id"]: d["n"] for d in col.aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}])}
failed = [{"url": d.get("url"), "failure": d.get("failure")}
          for d in col.find({"status": "failed"}, {"url": 1, "failure": 1}).limit(3)]
one = col.find_one({"status": "analyzed"}, {"short_id": 1})
ids = {d["_id"]: d.get("status") for d in col.find({"_id": {"$in": sys.argv[1:]}}, {"status": 1})}
print(json.dumps({"by": by, "failed": failed, "short_id": (one or {}).get("short_id"), "ids": ids},
                 default=str))
PY
}

# Wait until `want` articles are analyzed; fail on any failed article or on timeout.
wait_analyzed() {
  local want=$1 limit=$2 start=$SECONDS state analyzed nfailed
  while :; do
    check_deadline
    state=$(probe 2>/dev/null || echo '{}')
    analyzed=$("$py" -c 'import json,sys; print(json.loads(sys.argv[1]).get("by",{}).get("analyzed",0))' "$state" 2>/dev/null || echo 0)
    nfailed=$("$py" -c 'import json,sys; print(json.loads(sys.argv[1]).get("by",{}).get("failed",0))' "$state" 2>/dev/null || echo 0)
    [ "$nfailed" = 0 ] || fail "$nfailed article(s) failed: $state"
    [ "$analyzed" -ge "$want" ] && { STATE=$state; return 0; }
    [ $((SECONDS - start)) -lt "$limit" ] || fail "only $analyzed of $want articles analyzed after ${limit}s: $state"
    sleep 3
  done
}

# "consumer count" pairs of the extractor group's pending entries, one per line.
pending_by_consumer() {
  redis_cli XPENDING '{newsflow}:fetched' extractor 2>/dev/null | awk 'NR > 3 && NF { printf "%s%s", $0, (++n % 2 ? " " : "\n") }'
}

urls() { # urls light|heavy COUNT
  local i; for i in $(seq 1 "$2"); do printf 'http://pages:8080/%s/a%03d.html\n' "$1" "$i"; done
}

# --- 3. publish into the running stack, read back -----------------------------------------------
t=$SECONDS
mapfile -t batch < <(urls light "$LIGHT")
out=$(dc run --rm -T cli publish "${batch[@]}" 2>&1) || fail "cli publish failed: $out"
pass "published $LIGHT URLs with 'docker compose run --rm cli publish'"
wait_analyzed "$LIGHT" 180
pass "$LIGHT articles analyzed $((SECONDS - t))s after publishing"

out=$(dc run --rm -T -e COLUMNS=120 cli status 2>"$work/err") || fail "cli status failed: $out $(cat "$work/err")"
printf '%s\n' "$out" | head -n 15 | sed 's/^/      /'
sid=$("$py" -c 'import json,sys; print(json.loads(sys.argv[1]).get("short_id") or "")' "$STATE")
out=$(dc run --rm -T cli show "$sid" 2>"$work/err") || fail "cli show $sid failed: $out $(cat "$work/err")"
printf '%s\n' "$out" | grep -q 'Smoke test article' || fail "cli show $sid does not show the article: $(printf '%s\n' "$out" | head -n 5)"
out=$(dc run --rm -T cli show --json "$sid" 2>"$work/err") || fail "cli show --json $sid failed: $(cat "$work/err")"
printf '%s\n' "$out" | grep -q '"status": *"analyzed"' || fail "cli show --json $sid does not say analyzed: $(printf '%s\n' "$out" | head -n 5)"
out=$(dc run --rm -T cli list 2>"$work/err") || fail "cli list failed: $out $(cat "$work/err")"
[ "$(printf '%s\n' "$out" | grep -c 'pages')" -ge 1 ] || fail "cli list shows no article: $out"
pass "cli status, show $sid and list read the results"

# --- 3b. a source: the feeder queues the feed's items, named after the feed ------------------------
t=$SECONDS
out=$(dc run --rm -T cli sources add http://pages:8080/feed/feed.xml 2>&1) || fail "cli sources add failed: $out"
printf '%s\n' "$out" | grep -q 'Smoke Feed' || fail "cli sources add did not find the feed: $out"
wait_analyzed $((LIGHT + FEED)) 180
out=$(dc run --rm -T -e COLUMNS=200 cli list --limit 100 2>"$work/err") || fail "cli list failed: $(cat "$work/err")"
named=$(printf '%s\n' "$out" | grep -c 'Smoke Feed' || true)
[ "$named" = "$FEED" ] || fail "$named of $FEED articles carry the source name 'Smoke Feed': $out"
out=$(dc run --rm -T -e COLUMNS=200 cli sources list 2>"$work/err") || fail "cli sources list failed: $(cat "$work/err")"
printf '%s\n' "$out" | grep 'Smoke Feed' | grep -q healthy || fail "the source is not healthy: $out"
pass "'cli sources add' of a feed: its $FEED articles analyzed $((SECONDS - t))s later, named 'Smoke Feed'; the source is healthy"

# --- 4. three extractors share the work ---------------------------------------------------------
t=$SECONDS
out=$(dc up -d --no-recreate --wait --wait-timeout 180 --scale extractor=3 extractor 2>&1) \
  || fail "scaling the extractor to 3 failed: $(printf '%s\n' "$out" | tail -n 5)"
declare -A host_of=()   # container id -> hostname (the consumer names start with it)
for id in $(dc ps -q extractor); do host_of[$id]=$(docker inspect -f '{{.Config.Hostname}}' "$id"); done
[ "${#host_of[@]}" = 3 ] || fail "expected 3 extractor containers, found ${#host_of[@]}"
pass "scaled the extractor to 3 healthy replicas in $((SECONDS - t))s: ${host_of[*]}"

# --- 5. Prometheus scrapes every replica --------------------------------------------------------
t=$SECONDS
prom=$(dc port prometheus 9090 2>/dev/null | tail -n 1)
[ -n "$prom" ] || fail "prometheus publishes no port"
# one replica each, the extractor's three: every service of the declared pipeline, then reader
want=""
for s in "${services[@]}"; do
  if [ "$s" = extractor ]; then want+="$s=3 "; else want+="$s=1 "; fi
done
want=${want% }
export SERVICE_NAMES="${services[*]}"
seen=""
for _ in $(seq 90); do
  check_deadline
  seen=$(curl -fsS "http://$prom/api/v1/targets?state=active" 2>/dev/null | "$py" -c '
import collections, json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
up = collections.Counter(t["labels"].get("service") for t in targets
                         if t["labels"].get("job") == "newsflow" and t["health"] == "up")
import os
print(" ".join(f"{s}={up[s]}" for s in os.environ["SERVICE_NAMES"].split()))
' 2>/dev/null || true)
  [ "$seen" = "$want" ] && break
  sleep 2
done
[ "$seen" = "$want" ] || fail "prometheus does not scrape every replica: up targets $seen, want $want"
series=$(curl -fsS "http://$prom/api/v1/query" --data-urlencode 'query=count(newsflow_messages_processed_total{stage="extractor"})' | "$py" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
[ "$series" = 3 ] || fail "prometheus has newsflow_messages_processed_total of $series extractor replicas, want 3"
pass "prometheus scrapes one target per replica ($seen), all up, after $((SECONDS - t))s"

# --- 4b. the three extractors share a load -----------------------------------------------------

t=$SECONDS
mapfile -t batch < <(urls heavy "$HEAVY")
out=$(dc run --rm -T cli publish "${batch[@]}" 2>&1) || fail "cli publish failed: $out"
declare -A worked=()    # hostname -> 1 once it held pending entries
victim="" victim_host="" held=""
for _ in $(seq 600); do
  check_deadline
  while read -r consumer count; do
    [ -n "$consumer" ] && [ "${count:-0}" -gt 0 ] || continue
    for id in "${!host_of[@]}"; do
      h=${host_of[$id]}
      case "$consumer" in "$h"-*) worked[$h]=1
        # kill the first extractor seen holding work once all three have had some
        [ -z "$victim" ] && [ "${#worked[@]}" = 3 ] && victim=$id victim_host=$h ;;
      esac
    done
  done < <(pending_by_consumer)
  [ -n "$victim" ] && break
  sleep 0.2
done
[ "${#worked[@]}" = 3 ] || fail "only ${#worked[@]} of 3 extractors took work: ${!worked[*]}"
# Redis lists a consumer once it has been served entries: all three replicas must be there.
consumers=$(redis_cli XINFO CONSUMERS '{newsflow}:fetched' extractor | awk 'prev == "name" { print } { prev = $0 }')
seen=0
for h in "${host_of[@]}"; do printf '%s\n' "$consumers" | grep -q "^$h-" && seen=$((seen + 1)); done
[ "$seen" = 3 ] || fail "only $seen of 3 extractor containers are consumers of group extractor: $consumers"
pass "3 extractor replicas are consumers of group 'extractor' on {newsflow}:fetched and all 3 held messages of the same load (work is shared)"
printf '%s\n' "$consumers" | sed 's/^/      consumer /'

# --- 6. kill one mid-load; the others finish its messages ---------------------------------------
docker kill "$victim" >/dev/null || fail "docker kill $victim failed"
held=$(redis_cli XPENDING '{newsflow}:fetched' extractor - + 100 | awk 'NR % 4 == 1 { id = $0 } NR % 4 == 2 { print id, $0 }' | grep " $victim_host-" | awk '{print $1}')
nheld=$(printf '%s\n' "$held" | grep -c . || true)
[ "$nheld" -gt 0 ] || fail "the killed extractor ($victim_host) held no pending message at the kill; load too light?"
pass "killed extractor $victim_host mid-load at $((SECONDS - t))s; it held $nheld unacknowledged message(s): $(echo $held)"

# The entries carry the article id in their JSON body: which articles was the dead one holding?
articles=()
for entry in $held; do
  # stage messages are plain fields: the value follows the line "article_id"
  articles+=($(redis_cli XRANGE '{newsflow}:fetched' "$entry" "$entry" | awk 'prev == "article_id" { print } { prev = $0 }'))
done
[ "${#articles[@]}" = "$nheld" ] || fail "could not read the article ids of the killed extractor's entries"

wait_analyzed $((LIGHT + FEED + HEAVY)) 300
left=$(redis_cli XPENDING '{newsflow}:fetched' extractor - + 100 | awk 'NR % 4 == 1 { id = $0 } NR % 4 == 2 { print id, $0 }' | grep -c " $victim_host-" || true)
[ "$left" = 0 ] || fail "$left message(s) still pending on the killed extractor"
total_pending=$(redis_cli XPENDING '{newsflow}:fetched' extractor | head -n 1)
[ "${total_pending:-1}" = 0 ] || fail "$total_pending message(s) still pending in group extractor"
done_ids=$(probe "${articles[@]}" | "$py" -c 'import json,sys; print(sum(v == "analyzed" for v in json.load(sys.stdin)["ids"].values()))')
[ "$done_ids" = "$nheld" ] || fail "only $done_ids of the $nheld articles held by the killed extractor were analyzed"
state=$(docker inspect -f '{{.State.Status}}' "$victim")
running=$(dc ps -q --status running extractor | wc -l)
pass "all $((LIGHT + FEED + HEAVY)) articles analyzed $((SECONDS - t))s after publishing, including the $nheld the killed extractor held (reclaimed and finished by the $running others; it stays $state)"

# --- 7. tear down --------------------------------------------------------------------------------
dc down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || fail "docker compose down -v failed"
started=0
leftover=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"; docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$leftover" ] || fail "down -v left containers or volumes behind: $leftover"
pass "docker compose down -v removed containers, network and volumes"
echo "PASS: compose smoke test in $(elapsed)s"
