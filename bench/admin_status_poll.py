#!/usr/bin/env python3
"""Polls the coordinator's GET /v1/status over mutual TLS (as clsctl does),
one request every INTERVAL seconds on a keep-alive connection, and writes one
JSON line per request to OUT: {"t": unix time, "ms": latency, "stage": round
stage or null, "error": text if the request failed}. Runs until SIGTERM.
Used by scripts/bench.sh (phase "aggregation")."""
import argparse, http.client, json, signal, ssl, sys, time

p = argparse.ArgumentParser()
p.add_argument("--address", required=True)  # host:port
p.add_argument("--ca", required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
p.add_argument("--out", required=True)
p.add_argument("--interval", type=float, default=0.01)
a = p.parse_args()
host, port = a.address.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=a.ca)
ctx.load_cert_chain(a.cert, a.key)
ctx.check_hostname = False  # the coordinator's certificate names 127.0.0.1
running = True
signal.signal(signal.SIGTERM, lambda *_: globals().update(running=False))
conn = None
with open(a.out, "w") as out:
    while running:
        start = time.monotonic()
        rec = {"t": time.time()}
        try:
            if conn is None:
                conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)
            conn.request("GET", "/v1/status")
            body = conn.getresponse().read()
            round_ = json.loads(body).get("round")
            rec["stage"] = round_.get("stage") if round_ else None
        except Exception as e:  # reconnect next time; the failure is recorded
            rec["error"] = str(e)
            conn = None
        rec["ms"] = round((time.monotonic() - start) * 1000, 3)
        out.write(json.dumps(rec) + "\n")
        out.flush()
        time.sleep(max(0.0, a.interval - (time.monotonic() - start)))
