#!/usr/bin/env bash
# make demo: a whole consortium on this machine. A PKI, a coordinator and one
# site agent per hospital (real processes, mutual TLS 1.3 on loopback), ten
# secure federated rounds with one hospital crashing in the middle of round 5,
# then each hospital's held-out accuracy of the federated model next to a
# model trained on its own data alone, the model versions, and a gradual
# rollout of the newest one with predictions served at a hospital.
set -euo pipefail

BIN=$(cd "${1:-build/bin}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
DATA="${CLS_DEMO_DATA:-$REPO/../shared/data/heart-disease}"
ROUNDS=10
CRASH_ROUND=5
WORK=$(mktemp -d /tmp/cls-demo.XXXXXX)
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $rc -ne 0 ]]; then
    echo "demo: failed (exit $rc); logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SITE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
METRICS_PORT=$(free_port)
PKI="$REPO/certs/cls-pki --dir $WORK/pki"
CTL=("$BIN/clsctl" --coordinator "127.0.0.1:$ADMIN_PORT" --ca "$WORK/pki/ca.pem"
     --cert "$WORK/pki/issued/demo-admin.pem" --key "$WORK/pki/issued/demo-admin.key")
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS > deadline )); then echo "demo: timed out waiting for $what" >&2; return 1; fi
    sleep 0.5
  done
}

SITES=(HOSP_CLE HOSP_HUN HOSP_SWI HOSP_VA)
declare -A FILE=([HOSP_CLE]=cleveland [HOSP_HUN]=hungarian [HOSP_SWI]=switzerland [HOSP_VA]=va)
declare -A NAME=([HOSP_CLE]="Cleveland Clinic Foundation" [HOSP_HUN]="Hungarian Institute of Cardiology"
                 [HOSP_SWI]="University Hospitals Zurich and Basel" [HOSP_VA]="V.A. Medical Center Long Beach")
CRASH_SITE=HOSP_VA
declare -A SERVE_PORT
for s in "${SITES[@]}"; do SERVE_PORT[$s]=$(free_port); done

say "Data"
if [[ -f "$DATA/cleveland.csv" ]]; then
  echo "UCI heart disease, four hospitals: $DATA"
else
  DATA="$WORK/synthetic"
  python3 "$REPO/scripts/synthetic_cohorts.py" --out "$DATA"
  echo "real data not found; four synthetic cohorts (scripts/synthetic_cohorts.py) in $DATA"
fi

say "PKI: project CA, coordinator, operator and one start-up kit per hospital"
$PKI init --name "Demo Consortium CA" >/dev/null
$PKI issue coordinator 127.0.0.1 >/dev/null
$PKI issue operator demo-admin --role admin >/dev/null
# Cleveland's EHR: the role a site's prediction endpoint accepts by default.
$PKI issue ehr cleveland-ehr >/dev/null
for s in "${SITES[@]}"; do
  $PKI kit site "$s" --coordinator "127.0.0.1:$SITE_PORT" --out "$WORK/kits/$s" >/dev/null
  # The hospital fills in the data section of its kit's site.toml.
  kit="$WORK/kits/$s"
  cat > "$kit/site.toml" <<TOML
site_id = "$s"
site_name = "${NAME[$s]}"
metrics_listen = "127.0.0.1:$(free_port)"
coordinator = "127.0.0.1:$SITE_PORT"
data_dir = "./state"
[tls]
ca = "ca.pem"
cert = "site.pem"
key = "site.key"
crl = "ca-crl.pem"
[serve]
# Predictions for the hospital's own systems (docs/serving.md). The demo
# reuses the coordinator's 127.0.0.1 certificate; a hospital uses its own.
listen = "127.0.0.1:${SERVE_PORT[$s]}"
cert = "$WORK/pki/issued/127.0.0.1.pem"
key = "$WORK/pki/issued/127.0.0.1.key"
report_interval_s = 2
[data]
csv = "$DATA/${FILE[$s]}.csv"
label_column = "num"
positive_above = 0.0
imputation = "mean"
test_fraction = 0.2
split_seed = 7
$(for c in age sex trestbps chol fbs thalach exang oldpeak ca; do
    printf '[[data.columns]]\nname = "%s"\nkind = "numeric"\n' "$c"
    [[ $c == chol ]] && printf 'zero_is_missing = true\n'
  done)
[[data.columns]]
name = "cp"
kind = "categorical"
categories = [1, 2, 3, 4]
[[data.columns]]
name = "restecg"
kind = "categorical"
categories = [0, 1, 2]
[[data.columns]]
name = "slope"
kind = "categorical"
categories = [1, 2, 3]
[[data.columns]]
name = "thal"
kind = "categorical"
categories = [3, 6, 7]
TOML
  echo "kit for $s: $kit"
done

say "Coordinator"
cat > "$WORK/coordinator.toml" <<TOML
coordinator_id = "demo-coordinator"
data_dir = "coordinator-state"
listen = "127.0.0.1:$SITE_PORT"
admin_listen = "127.0.0.1:$ADMIN_PORT"
metrics_listen = "127.0.0.1:$METRICS_PORT"
min_sites = 3
[tls]
ca = "pki/ca.pem"
cert = "pki/issued/127.0.0.1.pem"
key = "pki/issued/127.0.0.1.key"
crl = "pki/ca-crl.pem"
[model]
type = "diagnosis_predictor"
kind = "logistic_regression"
parameters = 23
[round]
stage_timeout_s = 10
clip = 1.0
value_bits = 16
pause_between_rounds_ms = 2500
[training]
epochs = 5
batch_size = 16
learning_rate = 0.05
l2 = 0.001
TOML
"$BIN/cls-coordinator" --config "$WORK/coordinator.toml" 2> "$WORK/coordinator.log" &
PIDS+=($!)
wait_for 30 "the coordinator" "${CTL[@]}" status
echo "sites on 127.0.0.1:$SITE_PORT, admin API on 127.0.0.1:$ADMIN_PORT (log: $WORK/coordinator.log)"

start_site() {  # start_site SITE [extra args]
  local s=$1; shift
  (cd "$WORK/kits/$s" && exec "$BIN/cls-site-agent" --config site.toml "$@" 2>> "$WORK/$s.log") &
  PIDS+=($!)
  SITE_PID[$s]=$!
}
declare -A SITE_PID
say "Site agents: each hospital starts its kit with one command"
for s in "${SITES[@]}"; do
  if [[ $s == "$CRASH_SITE" ]]; then
    start_site "$s" --test-exit-after "share_keys:$CRASH_ROUND"
  else
    start_site "$s"
  fi
  echo "$s (${NAME[$s]}): cls-site-agent --config site.toml"
done

say "An operator approves the hospitals that asked to join"
for s in "${SITES[@]}"; do
  wait_for 30 "$s to register" bash -c "\"\${@}\" --json sites list | grep -q '\"$s\"'" _ "${CTL[@]}"
  "${CTL[@]}" sites approve "$s" >/dev/null
done
wait_for 60 "all sites to connect" bash -c \
  "[[ \$(\"\${@}\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"sites\"][\"connected\"])') == ${#SITES[@]} ]]" _ "${CTL[@]}"
"${CTL[@]}" sites list

say "$ROUNDS secure federated rounds; $CRASH_SITE crashes in the middle of round $CRASH_ROUND"
"${CTL[@]}" round start --rounds "$ROUNDS" >/dev/null
restarted=0
deadline=$((SECONDS + 240))
while :; do
  status=$("${CTL[@]}" --json round status)
  running=$(echo "$status" | json 'd["round"] is not None or d["queued_rounds"] > 0')
  [[ $running == False ]] && break
  if (( !restarted )) && ! kill -0 "${SITE_PID[$CRASH_SITE]}" 2>/dev/null; then
    echo "$CRASH_SITE stopped during round $CRASH_ROUND (after sending its key shares); restarting it"
    start_site "$CRASH_SITE"
    restarted=1
  fi
  (( SECONDS > deadline )) && { echo "demo: rounds did not finish" >&2; exit 1; }
  sleep 0.5
done

say "Rounds"
"${CTL[@]}" round history --limit "$((ROUNDS + 1))"  # + the statistics round

say "What Prometheus scrapes from the coordinator (http://127.0.0.1:$METRICS_PORT/metrics)"
python3 - "$METRICS_PORT" <<'PY'
import sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
ready = urllib.request.urlopen(base + "/readyz").read().decode().strip()
print(f"  /readyz: {ready}")
wanted = ("cls_build_info", "cls_rounds_total", "cls_sites_connected",
          "cls_model_versions", "cls_round_stage_duration_seconds_count",
          "cls_site_bytes_received_total")
for line in urllib.request.urlopen(base + "/metrics").read().decode().splitlines():
    if line.startswith(wanted):
        print("  " + line)
PY

say "Held-out accuracy at each hospital (its own 20% split, never shared)"
sleep 2  # the last evaluation reports and status files
python3 - "$WORK" "${SITES[@]}" <<'PY'
import json, sys, os
work, sites = sys.argv[1], sys.argv[2:]
print(f"{'SITE':<10} {'TEST ROWS':>9} {'FEDERATED':>10} {'FED+PRIOR':>10} {'LOCAL ONLY':>11} {'FED AUC':>8} {'LOCAL AUC':>10}")
for s in sites:
    path = os.path.join(work, "kits", s, "state", "status.json")
    with open(path) as f:
        st = json.load(f)
    fed, loc = st["federated"], st["local_only"]
    prior = st.get("federated_site_prior") or {}
    prior_acc = f"{prior['accuracy']:.3f}" if "accuracy" in prior else "-"
    print(f"{s:<10} {fed['count']:>9} {fed['accuracy']:>10.3f} {prior_acc:>10} {loc['accuracy']:>11.3f} "
          f"{fed['auc']:>8.3f} {loc['auc']:>10.3f}")
print("FED+PRIOR: the federated model with its intercept moved to the hospital's own")
print("share of positive cases (docs/evaluation.md). Standardisation: federation-wide,")
print("from the secure statistics round (round 1).")
PY

say "Model versions (artifacts encrypted at rest; metrics summed from the sites' evaluations)"
"${CTL[@]}" versions list --limit 3
read -r STABLE CANDIDATE < <("${CTL[@]}" --json versions list --limit 2 |
  json '" ".join(v["version_id"] for v in reversed(d["versions"]))')

say "Safe deployment: $STABLE to every hospital, then a gradual rollout of $CANDIDATE"
up_to_date() {  # every site has acked the current deployment
  "${CTL[@]}" --json versions deployment |
    json 'all(s["up_to_date"] for s in d["sites"]) or sys.exit(1)'
}
"${CTL[@]}" versions deploy "$STABLE" --strategy immediate --reason "demo: first release" >/dev/null
wait_for 30 "the sites to install $STABLE" up_to_date
"${CTL[@]}" versions deploy "$CANDIDATE" --strategy gradual_rollout --reason "demo: next round's model" >/dev/null
wait_for 30 "the sites to start the rollout" up_to_date
"${CTL[@]}" versions rollout "$CANDIDATE" --to 50 >/dev/null
wait_for 30 "the sites to reach 50%" up_to_date
"${CTL[@]}" versions deployment

say "Cleveland's systems ask for predictions (its complete rows replayed as encounters); outcomes follow"
python3 - "${SERVE_PORT[HOSP_CLE]}" "$WORK/pki" "$DATA/cleveland.csv" <<'PY'
import csv, http.client, json, ssl, sys
port, pki, rows = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=f"{pki}/ca.pem")
ctx.load_cert_chain(f"{pki}/issued/cleveland-ehr.pem", f"{pki}/issued/cleveland-ehr.key")
conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=10)
def post(path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    text = r.read().decode()
    if r.status != 200:
        sys.exit(f"{path}: HTTP {r.status}: {text}")
    return json.loads(text)
served, correct = {}, {}
with open(rows) as f:
    for i, row in enumerate(csv.DictReader(f)):
        if any(v in ("", "?") for v in row.values()):
            continue
        label = 1 if float(row.pop("num")) > 0 else 0
        key = f"encounter-{i:04d}"
        p = post("/v1/predict", {"request_key": key,
                                 "features": {k: float(v) for k, v in row.items()}})
        v = p["version_id"]
        served[v] = served.get(v, 0) + 1
        correct[v] = correct.get(v, 0) + (p["label"] == label)
        post("/v1/outcome", {"request_key": key, "outcome": label})
for v in sorted(served):
    print(f"  {v}: {served[v]} predictions, {correct[v] / served[v]:.3f} correct")
PY
sleep 3  # the next drift report (every 2 s)
"${CTL[@]}" drift status
"${CTL[@]}" versions compare "$STABLE" "$CANDIDATE"

say "Audit trail"
python3 - "$WORK/coordinator-state/coordinator.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT event_type, COUNT(*) FROM audit_log GROUP BY event_type ORDER BY MIN(seq)").fetchall()
for event, count in rows:
    print(f"  {event:<28} {count}")
PY
echo
echo "demo: done; every process stopped."
