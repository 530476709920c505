#!/usr/bin/env bash
# make bench: performance of secure aggregation, one JSON object per line on
# stdout (progress goes to stderr):
#   {"name": "...", "value": 1.23, "unit": "s", "params": {...}[, "peer": ..., "peer_value": ...]}
# The first line describes the machine. Then:
#   1. bench/secagg_bench (in process, no network): masking, sum, unmask,
#      wire bytes, whole round, plain sum; 10 sites x 1,000,000 parameters.
#   2. Real daemons on loopback (mutual TLS 1.3): a coordinator and 10 site
#      agents in benchmark mode, 1,000,000 parameters, 3 rounds
#      -> secagg.round_s (median of the rounds' duration_ms as the
#      coordinator records it: announce sent to round finished, taken just
#      before the model commit), with the coordinator's stage timeline and
#      the CPU every process used per round in params.
#   3. 100 site agents x 100,000 parameters on the sparse SecAgg+ graph
#      -> round.sites100_s.
#   4. 100 site agents x 1,000,000 parameters, one robust round (trimmed
#      mean, per-site groups: 100 contributions), while bench/
#      admin_status_poll.py sends GET /v1/status every 10 ms over mutual TLS
#      -> admin.status_max_ms_during_aggregation (the longest request from
#      the round's unmask stage until it finished).
#   Also (phase serve_training): /v1/predict at 500/s while the site trains
#      on 1,000,000 x 50 -> serve.predict_max_ms_during_training.
# Usage: scripts/bench.sh [BIN_DIR]   (default build-release/bin)
# Environment: CLS_BENCH_QUICK=1 for a small smoke run (sizes divided down),
#              CLS_BENCH_KEEP=1 keeps the temporary directory,
#              CLS_BENCH_PHASES="inprocess serve serve_training secagg sites100 aggregation"
#              picks the parts,
#              CLS_BENCH_COORDINATOR_WRAPPER="valgrind --tool=callgrind ..."
#              runs the coordinator under a profiler that stays in the
#              coordinator's process (valgrind does; a wrapper that forks,
#              such as strace, would not receive the stop signal).
set -euo pipefail

BIN=$(cd "${1:-build-release/bin}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/cls-bench.XXXXXX)
PIDS=()
BENCH_START=$SECONDS

QUICK=${CLS_BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
  INPROC_ARGS=(--sites 10 --params 100000 --rounds 3)
  SMALL_SITES=10 SMALL_PARAMS=100000 SMALL_ROUNDS=3
  BIG_SITES=20 BIG_PARAMS=10000 BIG_ROUNDS=1
  AGG_SITES=${CLS_BENCH_AGG_SITES:-20} AGG_PARAMS=${CLS_BENCH_AGG_PARAMS:-100000}
else
  INPROC_ARGS=(--sites 10 --params 1000000 --rounds 3)
  SMALL_SITES=10 SMALL_PARAMS=1000000 SMALL_ROUNDS=${CLS_BENCH_ROUNDS:-3}
  BIG_SITES=100 BIG_PARAMS=100000 BIG_ROUNDS=2
  AGG_SITES=${CLS_BENCH_AGG_SITES:-100} AGG_PARAMS=${CLS_BENCH_AGG_PARAMS:-1000000}
fi
BIG_COMPLETE_UP_TO=32
# Only start the second 100-site round if the bench has used less than this.
BUDGET_S=${CLS_BENCH_BUDGET_S:-480}

# Stops the processes this script started: SIGTERM, then SIGKILL after 10 s.
stop_all() {
  local pid alive i
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && { alive=1; break; }; done
    (( alive )) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  local rc=$?
  stop_all
  if [[ $rc -ne 0 || ${CLS_BENCH_KEEP:-0} == 1 ]]; then
    echo "bench: exit $rc; logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'bench: [%3ds] %s\n' "$((SECONDS - BENCH_START))" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
for b in secagg_bench cls-coordinator cls-site-agent clsctl; do
  [[ -x $BIN/$b ]] || die "$BIN/$b missing (build with CLS_BUILD_BENCH=ON)"
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- machine
python3 - <<'PY'
import json, os
cpu = "unknown"
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
mem_kib = 0
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
cores = len(os.sched_getaffinity(0))
print(json.dumps({"name": "machine", "value": cores, "unit": "cores",
                  "params": {"cpu": cpu, "memory_gib": round(mem_kib / 2**20, 1)}}))
PY

PHASES=" ${CLS_BENCH_PHASES:-inprocess serve serve_training secagg sites100 aggregation} "
want() { [[ $PHASES == *" $1 "* ]]; }

# ---------------------------------------------------------------- in process
if want inprocess; then
  log "in-process secure aggregation: secagg_bench ${INPROC_ARGS[*]}"
  "$BIN/secagg_bench" "${INPROC_ARGS[@]}"
fi
# ---------------------------------------------------------------- online learning
# bench/online_bench: one IncrementalUpdate of 1,000 x 100 (batch 32), median
# of 50 runs -> online.update_1000x100_ms, with sklearn's partial_fit as peer.
if want inprocess && [[ -x $BIN/online_bench ]]; then
  log "online learning: online_bench"
  "$BIN/online_bench"
fi
# ---------------------------------------------------------------- heart disease
# bench/heart_eval: held-out accuracy / AUC on the UCI heart-disease sites for
# local-only, FedAvg, FedProx and pooled training (in-process simulation)
# -> heart.acc.* and heart.auc.* (see docs/evaluation.md).
HEART_DATA="${CLS_HEART_DATA:-$REPO/../shared/data/heart-disease}"
if want inprocess && [[ -x $BIN/heart_eval ]]; then
  if [[ -f $HEART_DATA/cleveland.csv ]]; then
    log "heart disease evaluation: heart_eval --data $HEART_DATA"
    "$BIN/heart_eval" --data "$HEART_DATA"
    if [[ -x $BIN/forgetting_eval ]]; then
      log "forgetting: forgetting_eval --data $HEART_DATA"
      "$BIN/forgetting_eval" --data "$HEART_DATA"
    fi
  else
    log "heart disease data not found in $HEART_DATA; heart_eval skipped"
  fi
fi
# ---------------------------------------------------------------- model kinds
# bench/model_kinds_eval: held-out accuracy (macro-F1 for several classes) of
# local-only, federated and pooled training for the examples/ model types on
# their synthetic data and the heart data (docs/evaluation.md, "Model kinds").
if want inprocess && [[ -x $BIN/model_kinds_eval ]]; then
  log "model kinds: model_kinds_eval"
  "$BIN/model_kinds_eval"
fi
# ---------------------------------------------------------------- training
# bench/train_bench: train.softmax_epoch_ms and train.mlp_epoch_ms (10,000 x
# 100, 10 classes) with scikit-learn's SGDClassifier / MLPClassifier on the
# same data as peer_value (bench/train_peer.py, Debian's /usr/bin/python3),
# DP-SGD's epoch overhead and its accuracy cost on the heart data at
# epsilon 1, 3 and 8 (heart.dp_sgd.*; docs/privacy.md).
if want inprocess && [[ -x $BIN/train_bench ]]; then
  log "training speed and DP-SGD: train_bench --data $HEART_DATA"
  "$BIN/train_bench" --data "$HEART_DATA"
fi
# ---------------------------------------------------------------- drift
# bench/drift_bench: drift.record_ns (record + every detector), route.decide_ns
# (sticky routing), false alarms and detection delays per detector
# (see docs/drift.md).
if want inprocess && [[ -x $BIN/drift_bench ]]; then
  log "drift detection and routing: drift_bench"
  "$BIN/drift_bench"
fi
# ---------------------------------------------------------------- privacy
# bench/privacy_bench: dp.accountant_10000_rounds_ms (compose + convert after
# each of 10,000 rounds), one RDP curve, noise calibration, Gaussian and
# Skellam noise on 1,000,000 values (see docs/privacy.md).
if want inprocess && [[ -x $BIN/privacy_bench ]]; then
  log "differential privacy: privacy_bench"
  "$BIN/privacy_bench"
fi
# ---------------------------------------------------------------- robustness
# bench/robust_bench: each robust rule on 10 and 100 contributions x 1,000,000
# parameters -> robust.<rule>_<n>x1M_ms (robust.trimmed_mean_10x1M_ms has
# target 100). bench/attack_suite: the attack table of docs/robustness.md
# -> attack.<attack>.s<sites>_m<malicious> (accuracy; skipped without data).
if want inprocess && [[ -x $BIN/robust_bench ]]; then
  log "robust aggregation: robust_bench"
  if [[ $QUICK == 1 ]]; then
    "$BIN/robust_bench" --quick --repeats 1
  else
    "$BIN/robust_bench"
  fi
fi
if want inprocess && [[ -x $BIN/attack_suite ]]; then
  if [[ -f $HEART_DATA/cleveland.csv ]]; then
    log "attack suite: attack_suite --data $HEART_DATA"
    "$BIN/attack_suite" --data "$HEART_DATA"
  else
    log "heart disease data not found in $HEART_DATA; attack_suite skipped"
  fi
fi
# ---------------------------------------------------------------- serve
# bench/serve_bench: /v1/predict throughput of the site's HTTPS prediction
# server on loopback with wrk (installed here if missing) -> serve.predict_rps;
# serve.service_predict_us without HTTP; a logistic regression, then an MLP
# (its lines: "model": "mlp" in params) (see docs/serving.md).
if want serve && [[ -x $BIN/serve_bench ]]; then
  if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk (apt-get install wrk)"
    { sudo -n apt-get install -y wrk || apt-get install -y wrk; } >&2 || true
  fi
  if command -v wrk >/dev/null 2>&1; then
    log "prediction serving: serve_bench"
    "$BIN/serve_bench" --seconds "$([[ $QUICK == 1 ]] && echo 3 || echo 10)" \
      --pki-script "$REPO/certs/cls-pki"
  else
    log "wrk not available; serve_bench skipped"
  fi
fi
want secagg || want sites100 || want aggregation || want serve_training || exit 0

# ---------------------------------------------------------------- real daemons
if want secagg || want sites100 || want aggregation; then
  PKI=("$REPO/certs/cls-pki" --dir "$WORK/pki")
  log "PKI: CA, coordinator, operator and site certificates"
  "${PKI[@]}" init --name "Bench CA" >/dev/null 2>>"$WORK/pki.log"
  "${PKI[@]}" issue coordinator 127.0.0.1 >/dev/null 2>>"$WORK/pki.log"
  "${PKI[@]}" issue operator bench-admin --role admin >/dev/null 2>>"$WORK/pki.log"
  site_id() { printf 'BENCH_%03d' "$1"; }
  max_sites=$SMALL_SITES
  want sites100 && (( BIG_SITES > max_sites )) && max_sites=$BIG_SITES
  want aggregation && (( AGG_SITES > max_sites )) && max_sites=$AGG_SITES
  for ((i = 1; i <= max_sites; i++)); do
    "${PKI[@]}" issue site "$(site_id "$i")" >/dev/null 2>>"$WORK/pki.log"
  done
  log "PKI ready"
fi

# run_cluster NAME SITES PARAMETERS ROUNDS COMPLETE_GRAPH_UP_TO
# Starts a coordinator and SITES agents in $WORK/NAME, approves them, runs
# ROUNDS rounds (further rounds one at a time while within BUDGET_S) and
# leaves the rounds' history in $WORK/NAME/history.json and the coordinator's
# stage timings in $WORK/NAME/coordinator.log. Stops every process after.
run_cluster() {
  local name=$1 n=$2 params=$3 rounds=$4 complete_up_to=$5
  local dir="$WORK/$name"
  mkdir -p "$dir"
  local site_port admin_port
  site_port=$(free_port)
  admin_port=$(free_port)
  CTL=("$BIN/clsctl" --coordinator "127.0.0.1:$admin_port" --ca "$WORK/pki/ca.pem"
       --cert "$WORK/pki/issued/bench-admin.pem" --key "$WORK/pki/issued/bench-admin.key"
       --timeout 120 --json)
  cat > "$dir/coordinator.toml" <<TOML
coordinator_id = "bench-coordinator"
data_dir = "state"
listen = "127.0.0.1:$site_port"
admin_listen = "127.0.0.1:$admin_port"
metrics_listen = "127.0.0.1:0"
min_sites = $n
log_level = "info"
[tls]
ca = "$WORK/pki/ca.pem"
cert = "$WORK/pki/issued/127.0.0.1.pem"
key = "$WORK/pki/issued/127.0.0.1.key"
crl = "$WORK/pki/ca-crl.pem"
[model]
kind = "benchmark_vector"
parameters = $params
[round]
stage_timeout_s = 60
clip = 1.0
value_bits = 16
pause_between_rounds_ms = 500
complete_graph_up_to = $complete_up_to
${CLUSTER_COORDINATOR_TOML:-}
TOML
  ${CLS_BENCH_COORDINATOR_WRAPPER:-} "$BIN/cls-coordinator" --config "$dir/coordinator.toml" > "$dir/coordinator.log" 2>&1 &
  PIDS+=($!)
  local coordinator_pid=$!
  local site_pids=()
  local deadline=$((SECONDS + 30))
  until "${CTL[@]}" status >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "$name: the coordinator did not start (see $dir/coordinator.log)"
    sleep 0.2
  done

  local i id
  for ((i = 1; i <= n; i++)); do
    id=$(site_id "$i")
    cat > "$dir/$id.toml" <<TOML
site_id = "$id"
site_name = "Benchmark site $i"
metrics_listen = "127.0.0.1:0"
coordinator = "127.0.0.1:$site_port"
data_dir = "$dir/$id-state"
log_level = "info"
[tls]
ca = "$WORK/pki/ca.pem"
cert = "$WORK/pki/issued/$id.pem"
key = "$WORK/pki/issued/$id.key"
crl = "$WORK/pki/ca-crl.pem"
[benchmark]
parameters = $params
${CLUSTER_SITE_TOML:-}
TOML
    "$BIN/cls-site-agent" --config "$dir/$id.toml" > "$dir/$id.log" 2>&1 &
    PIDS+=($!)
    site_pids+=($!)
  done
  log "$name: coordinator and $n site agents started; approving"

  # Every site registers (its first hello is refused as pending), then is
  # approved; the agents retry with a backoff of at most 10 s.
  deadline=$((SECONDS + 90))
  local registered=0
  while :; do
    registered=$("${CTL[@]}" sites list 2>/dev/null |
                 python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sites"]))' 2>/dev/null || echo 0)
    (( registered >= n )) && break
    (( SECONDS < deadline )) || die "$name: only $registered of $n sites registered"
    sleep 0.5
  done
  for ((i = 1; i <= n; i++)); do
    "${CTL[@]}" sites approve "$(site_id "$i")" >/dev/null || die "$name: approve $(site_id "$i")"
  done
  deadline=$((SECONDS + 120))
  local connected=0
  while :; do
    connected=$("${CTL[@]}" status 2>/dev/null |
                python3 -c 'import json,sys; print(json.load(sys.stdin)["sites"]["connected"])' 2>/dev/null || echo 0)
    (( connected >= n )) && break
    (( SECONDS < deadline )) || die "$name: only $connected of $n sites connected"
    sleep 0.5
  done
  log "$name: $n sites connected; running $rounds round(s)"

  cpu_snapshot "$dir/cpu-before.json" "$coordinator_pid" "${site_pids[@]}"
  local poll_pid=""
  if [[ ${CLUSTER_POLL_STATUS:-0} == 1 ]]; then
    python3 "$REPO/bench/admin_status_poll.py" --address "127.0.0.1:$admin_port" \
      --ca "$WORK/pki/ca.pem" --cert "$WORK/pki/issued/bench-admin.pem" \
      --key "$WORK/pki/issued/bench-admin.key" --out "$dir/status-poll.jsonl" &
    poll_pid=$!
    PIDS+=($poll_pid)
  fi
  local first
  first=$("${CTL[@]}" round start --rounds "$rounds" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["first_round"])') ||
    die "$name: round start refused"
  wait_rounds "$name" "$((rounds * 240))"
  # Optional extra rounds, one at a time, while the time budget allows.
  local done_rounds=$rounds
  while (( done_rounds < ${6:-$rounds} && SECONDS - BENCH_START < BUDGET_S )); do
    log "$name: within budget; one more round"
    "${CTL[@]}" round start --rounds 1 >/dev/null || die "$name: round start refused"
    wait_rounds "$name" 240
    done_rounds=$((done_rounds + 1))
  done
  "${CTL[@]}" round history --limit 1000 |
    python3 -c 'import json,sys; first=int(sys.argv[1]); d=json.load(sys.stdin);
print(json.dumps([r for r in d["rounds"] if r["round_id"] >= first]))' "$first" > "$dir/history.json"
  cpu_snapshot "$dir/cpu-after.json" "$coordinator_pid" "${site_pids[@]}"
  if [[ -n $poll_pid ]]; then kill "$poll_pid" 2>/dev/null || true; wait "$poll_pid" 2>/dev/null || true; fi
  stop_all
  log "$name: done"
}

# cpu_snapshot FILE COORDINATOR_PID SITE_PID...: CPU seconds (user + system)
# each process has used so far, as JSON {"coordinator": s, "coordinator_sys": s,
# "sites": [s, ...], "sites_sys": [s, ...]} (the _sys values: kernel time only).
cpu_snapshot() {
  python3 - "$@" <<'PY'
import json, os, sys
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid, kernel_only=False):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (stime if kernel_only else utime + stime) / tick
    except OSError:
        return None
out, coordinator, sites = sys.argv[1], sys.argv[2], sys.argv[3:]
json.dump({"coordinator": cpu(coordinator), "coordinator_sys": cpu(coordinator, True),
           "sites": [cpu(p) for p in sites], "sites_sys": [cpu(p, True) for p in sites]},
          open(out, "w"))
PY
}

wait_rounds() {  # wait_rounds NAME TIMEOUT_S
  local deadline=$((SECONDS + $2)) busy
  while :; do
    busy=$("${CTL[@]}" round status 2>/dev/null |
           python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["round"] is not None or d["queued_rounds"] > 0))' 2>/dev/null || echo 1)
    [[ $busy == 0 ]] && break
    (( SECONDS < deadline )) || die "$1: rounds did not finish in $2 s"
    sleep 0.5
  done
}

# report NAME METRIC SITES PARAMS COMPLETE_UP_TO TARGET
# One JSON line: the median of the completed rounds' duration_ms / 1000, with
# the per-round values and the coordinator's stage timeline (from its log).
report() {
  python3 - "$WORK/$1" "$2" "$3" "$4" "$5" "$6" <<'PY'
import json, re, statistics, sys, datetime, glob, os
d, metric, sites, params, complete_up_to, target = sys.argv[1:7]
sites, params, complete_up_to = int(sites), int(params), int(complete_up_to)
rounds = json.load(open(os.path.join(d, "history.json")))
bad = [r for r in rounds if r["status"] != "completed"]
if bad or not rounds:
    sys.exit(f"bench: {metric}: rounds not completed: " +
             "; ".join(f'{r["round_id"]}: {r.get("abort_reason")}' for r in bad))
durations = [r["duration_ms"] / 1000 for r in sorted(rounds, key=lambda r: r["round_id"])]
ids = {r["round_id"] for r in rounds}

def ts(line):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z", line)
    return datetime.datetime.fromisoformat(m.group(1)).timestamp() if m else None

# Coordinator stage timeline per round: announce -> each stage -> completed.
stages = {}
for line in open(os.path.join(d, "coordinator.log"), errors="replace"):
    t = ts(line)
    if t is None:
        continue
    m = re.search(r"round (\d+) starting", line)
    if m and int(m.group(1)) in ids:
        stages[int(m.group(1))] = [("announce", t)]
        continue
    m = re.search(r"round (\d+): stage (\w+)", line)
    if m and int(m.group(1)) in stages:
        stages[int(m.group(1))].append((m.group(2), t))
        continue
    m = re.search(r"round (\d+) (completed|aborted)", line)
    if m and int(m.group(1)) in stages:
        stages[int(m.group(1))].append(("done", t))
timeline = {}
for rid, events in stages.items():
    spans = {}
    for (name, t0), (_, t1) in zip(events, events[1:]):
        spans[name + "_s"] = round(t1 - t0, 3)
    timeline[str(rid)] = spans

# Site side: announce received -> keys advertised (delta + quantization).
prep = []
for log in glob.glob(os.path.join(d, "BENCH_*.log")):
    got = {}
    for line in open(log, errors="replace"):
        t = ts(line)
        m = re.search(r"round (\d+): (announced|trained; advertising keys)", line)
        if t is not None and m:
            got.setdefault(int(m.group(1)), {})[m.group(2)] = t
    for rid, g in got.items():
        if len(g) == 2:
            prep.append(g["trained; advertising keys"] - g["announced"])

# CPU the processes used during the rounds (pauses between rounds included,
# where they are idle), per round.
cpu = {}
try:
    before = json.load(open(os.path.join(d, "cpu-before.json")))
    after = json.load(open(os.path.join(d, "cpu-after.json")))
    n = len(durations)
    site_cpu = [(b1 - b0) / n for b0, b1 in zip(before["sites"], after["sites"])
                if b0 is not None and b1 is not None]
    coord = (after["coordinator"] - before["coordinator"]) / n
    coord_sys = (after["coordinator_sys"] - before["coordinator_sys"]) / n
    sites_sys = sum((b1 - b0) / n for b0, b1 in zip(before["sites_sys"], after["sites_sys"])
                    if b0 is not None and b1 is not None)
    cores = len(os.sched_getaffinity(0))
    cpu = {"coordinator_s": round(coord, 3), "coordinator_kernel_s": round(coord_sys, 3),
           "sites_total_s": round(sum(site_cpu), 3), "sites_kernel_s": round(sites_sys, 3),
           "site_median_s": round(statistics.median(site_cpu), 3),
           "all_processes_per_core_s": round((coord + sum(site_cpu)) / cores, 3)}
except (OSError, ValueError, TypeError, KeyError, statistics.StatisticsError):
    pass

graph = ("complete" if sites <= complete_up_to else
         f"sparse SecAgg+ (complete_graph_up_to = {complete_up_to})")
out = {"name": metric, "value": round(statistics.median(durations), 3), "unit": "s",
       "params": {"sites": sites, "parameters": params, "rounds": len(durations),
                  "per_round": durations, "neighbour_graph": graph,
                  "value_bits": 16, "stage_timeout_s": 60,
                  "measure": "median of the coordinator's duration_ms: announce sent to round finished (taken just before the model commit)",
                  "coordinator_stages": timeline}}
if cpu:
    out["params"]["cpu_per_round"] = cpu
if prep:
    out["params"]["site_prepare_s_median"] = round(statistics.median(prep), 3)
    out["params"]["site_prepare_s_max"] = round(max(prep), 3)
if target != "-":
    out["params"]["target"] = float(target)
print(json.dumps(out))
PY
}

# ---------------------------------------------------------------- serve during training
# serve.predict_max_ms_during_training: the longest /v1/predict (mutual TLS,
# loopback, one keep-alive connection, a steady 500 requests/s, measured by
# bench/predict_probe) while the same site agent trains a round on
# 1,000,000 synthetic rows x 50 features (generated into the temporary
# directory), with a second small site so the round can run (min_sites >= 2).
# Round 1 gives the site a model to serve; round 2 is measured. The
# training duration (announce received -> keys advertised, from the site's
# log) is in params. CLS_BENCH_SERVE_BIN runs other daemons (e.g. a build
# of an earlier commit) with this build's predict_probe.
if want serve_training && [[ -x $BIN/predict_probe ]]; then
  DBIN=${CLS_BENCH_SERVE_BIN:-$BIN}
  ST="$WORK/serve_training"
  mkdir -p "$ST"
  ST_ROWS=$([[ $QUICK == 1 ]] && echo 100000 || echo 1000000)
  SPKI=("$REPO/certs/cls-pki" --dir "$ST/pki")
  "${SPKI[@]}" init --name "Bench CA" >/dev/null 2>>"$ST/pki.log"
  "${SPKI[@]}" issue coordinator 127.0.0.1 >/dev/null 2>>"$ST/pki.log"
  "${SPKI[@]}" issue operator bench-admin --role admin >/dev/null 2>>"$ST/pki.log"
  "${SPKI[@]}" issue ehr bench-ehr >/dev/null 2>>"$ST/pki.log"
  for id in SERVE_BIG SERVE_SMALL; do
    "${SPKI[@]}" issue site "$id" >/dev/null 2>>"$ST/pki.log"
  done
  log "serve during training: writing $ST_ROWS x 50 synthetic rows"
  "$BIN/predict_probe" --write-csv "$ST/big.csv" --rows "$ST_ROWS" --features 50
  "$BIN/predict_probe" --write-csv "$ST/small.csv" --rows 2000 --features 50
  site_port=$(free_port); admin_port=$(free_port); serve_port=$(free_port)
  SCTL=("$DBIN/clsctl" --coordinator "127.0.0.1:$admin_port" --ca "$ST/pki/ca.pem"
        --cert "$ST/pki/issued/bench-admin.pem" --key "$ST/pki/issued/bench-admin.key"
        --timeout 120 --json)
  cat > "$ST/coordinator.toml" <<TOML
coordinator_id = "bench-coordinator"
data_dir = "$ST/coordinator-state"
listen = "127.0.0.1:$site_port"
admin_listen = "127.0.0.1:$admin_port"
metrics_listen = "127.0.0.1:0"
min_sites = 2
[tls]
ca = "$ST/pki/ca.pem"
cert = "$ST/pki/issued/127.0.0.1.pem"
key = "$ST/pki/issued/127.0.0.1.key"
crl = "$ST/pki/ca-crl.pem"
[model]
kind = "logistic_regression"
parameters = 51
[round]
stage_timeout_s = 120
[training]
epochs = 3
learning_rate = 0.1
TOML
  "$DBIN/cls-coordinator" --config "$ST/coordinator.toml" > "$ST/coordinator.log" 2>&1 &
  PIDS+=($!)
  deadline=$((SECONDS + 30))
  until "${SCTL[@]}" status >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "serve_training: the coordinator did not start"
    sleep 0.2
  done
  columns=""
  for ((j = 1; j <= 50; j++)); do columns+=$'[[data.columns]]\n'"name = \"f$j\""$'\n'; done
  for id in SERVE_BIG SERVE_SMALL; do
    csv="$ST/small.csv"; serve=""
    if [[ $id == SERVE_BIG ]]; then
      csv="$ST/big.csv"
      serve=$'[serve]\n'"listen = \"127.0.0.1:$serve_port\""$'\n'"cert = \"$ST/pki/issued/127.0.0.1.pem\""$'\n'"key = \"$ST/pki/issued/127.0.0.1.key\""$'\n'
    fi
    cat > "$ST/$id.toml" <<TOML
site_id = "$id"
metrics_listen = "127.0.0.1:0"
coordinator = "127.0.0.1:$site_port"
data_dir = "$ST/$id-state"
[tls]
ca = "$ST/pki/ca.pem"
cert = "$ST/pki/issued/$id.pem"
key = "$ST/pki/issued/$id.key"
crl = "$ST/pki/ca-crl.pem"
[data]
csv = "$csv"
label_column = "y"
positive_above = 0.5
$columns
$serve
[secure_aggregation]
min_neighbourhood = 2
TOML
    "$DBIN/cls-site-agent" --config "$ST/$id.toml" > "$ST/$id.log" 2>&1 &
    PIDS+=($!)
  done
  deadline=$((SECONDS + 300))
  until [[ $("${SCTL[@]}" sites list 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sites"]))' 2>/dev/null || echo 0) -ge 2 ]]; do
    (( SECONDS < deadline )) || die "serve_training: the sites did not register (see $ST)"
    sleep 0.5
  done
  for id in SERVE_BIG SERVE_SMALL; do "${SCTL[@]}" sites approve "$id" >/dev/null; done
  deadline=$((SECONDS + 120))
  until [[ $("${SCTL[@]}" status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["sites"]["connected"])' 2>/dev/null || echo 0) -ge 2 ]]; do
    (( SECONDS < deadline )) || die "serve_training: the sites did not connect (see $ST)"
    sleep 0.5
  done
  CTL=("${SCTL[@]}")
  log "serve during training: round 1 (gives the site a model to serve)"
  "${SCTL[@]}" round start --rounds 1 >/dev/null || die "serve_training: round start refused"
  wait_rounds serve_training 600
  log "serve during training: round 2 with /v1/predict at 500/s"
  rm -f "$ST/stop"
  "$BIN/predict_probe" --port "$serve_port" --ca "$ST/pki/ca.pem" \
    --cert "$ST/pki/issued/bench-ehr.pem" --key "$ST/pki/issued/bench-ehr.key" \
    --features 50 --rate 500 --until "$ST/stop" > "$ST/probe.json" 2> "$ST/probe.log" &
  probe=$!
  sleep 2
  "${SCTL[@]}" round start --rounds 1 >/dev/null || die "serve_training: round start refused"
  wait_rounds serve_training 600
  sleep 1
  touch "$ST/stop"
  wait "$probe" || die "serve_training: predict_probe failed: $(cat "$ST/probe.log")"
  stop_all
  python3 - "$ST" "$ST_ROWS" "$DBIN" <<'PY'
import json, re, sys, datetime
d, rows, dbin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
probe = json.load(open(f"{d}/probe.json"))
def ts(line):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z", line)
    return datetime.datetime.fromisoformat(m.group(1)).timestamp() if m else None
got = {}
for line in open(f"{d}/SERVE_BIG.log", errors="replace"):
    m = re.search(r"round (\d+): (announced|trained; advertising keys)", line)
    t = ts(line)
    if m and t is not None:
        got.setdefault(int(m.group(1)), {})[m.group(2)] = t
train = [g["trained; advertising keys"] - g["announced"] for _, g in sorted(got.items()) if len(g) == 2]
print(json.dumps({"name": "serve.predict_max_ms_during_training", "value": round(probe["max_ms"], 3),
                  "unit": "ms", "params": {"target": 20, "rate_per_s": 500, "rows": rows, "features": 50,
                  "p99_ms": round(probe["p99_ms"], 3), "requests": probe["requests"],
                  "non_200": probe["non_200"], "probe_seconds": round(probe["seconds"], 1),
                  "training_s": round(train[-1], 3) if train else None,
                  "daemons": dbin}}))
PY
  log "serve during training: done"
fi

if want secagg; then
  log "real daemons: $SMALL_SITES sites x $SMALL_PARAMS parameters, $SMALL_ROUNDS rounds"
  run_cluster secagg "$SMALL_SITES" "$SMALL_PARAMS" "$SMALL_ROUNDS" 32
  report secagg secagg.round_s "$SMALL_SITES" "$SMALL_PARAMS" 32 2.0
fi

if want sites100; then
  log "real daemons: $BIG_SITES sites x $BIG_PARAMS parameters"
  run_cluster sites100 "$BIG_SITES" "$BIG_PARAMS" 1 "$BIG_COMPLETE_UP_TO" "$BIG_ROUNDS"
  report sites100 round.sites100_s "$BIG_SITES" "$BIG_PARAMS" "$BIG_COMPLETE_UP_TO" -
fi

# report_status_poll NAME SITES PARAMS: admin.status_max_ms_during_aggregation
# from $WORK/NAME/status-poll.jsonl: the longest GET /v1/status from the
# first poll that saw the round in unmask until the first that saw no round.
report_status_poll() {
  python3 - "$WORK/$1" "$2" "$3" <<'PY'
import json, os, statistics, sys
d, sites, params = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
polls = [json.loads(l) for l in open(os.path.join(d, "status-poll.jsonl")) if l.strip()]
start = next((i for i, p in enumerate(polls) if p.get("stage") == "unmask"), None)
if start is None:
    sys.exit("bench: admin.status_max_ms_during_aggregation: no poll saw the unmask stage")
end = next((i for i in range(start, len(polls))
            if "error" not in polls[i] and polls[i].get("stage") is None), len(polls) - 1)
window = polls[start:end + 1]
ms = [p["ms"] for p in window]
errors = [p["error"] for p in polls if "error" in p]
out = {"name": "admin.status_max_ms_during_aggregation", "value": round(max(ms), 1), "unit": "ms",
       "params": {"sites": sites, "parameters": params, "rule": "trimmed_mean",
                  "groups": "per site (robust.secure_aggregation = false): one contribution per site",
                  "poll_interval_ms": 10, "polls_in_window": len(ms),
                  "window_s": round(window[-1]["t"] - window[0]["t"], 3),
                  "median_ms_in_window": round(statistics.median(ms), 2),
                  "max_ms_whole_run": round(max(p["ms"] for p in polls), 1),
                  "failed_polls": len(errors),
                  "measure": "longest GET /v1/status (mutual TLS, keep-alive) from the first poll that saw the round in unmask to the first that saw it finished",
                  "target": 50}}
print(json.dumps(out))
PY
}

if want aggregation; then
  log "real daemons: robust trimmed-mean round, $AGG_SITES sites x $AGG_PARAMS parameters, admin status polled every 10 ms"
  CLUSTER_COORDINATOR_TOML=$'[robust]\nenabled = true\nrule = "trimmed_mean"\nsecure_aggregation = false' \
  CLUSTER_SITE_TOML=$'[secure_aggregation]\nallow_single_site = true' \
  CLUSTER_POLL_STATUS=1 \
    run_cluster aggregation "$AGG_SITES" "$AGG_PARAMS" 1 32
  report aggregation robust.round_s "$AGG_SITES" "$AGG_PARAMS" 32 -
  report_status_poll aggregation "$AGG_SITES" "$AGG_PARAMS"
fi

log "done in $((SECONDS - BENCH_START)) s"
