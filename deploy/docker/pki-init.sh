#!/bin/bash
# The Compose file's one-shot PKI service (deploy/docker/docker-compose.yml).
# Keeps the project CA in its own volume (only this service mounts it) and
# copies to each daemon's volume just what that daemon needs: the
# coordinator its certificate and key, each hospital its start-up kit's
# certificate and key, the operator service its clsctl certificate; all of
# them the CA certificate and the CRL. Idempotent: an existing CA and its
# certificates are kept; the CRL (valid 30 days) is renewed at every run, so
# `docker compose up` after a month does not leave the daemons refusing
# their peers.
#
# Runs as root because Docker creates the named volumes root-owned; it
# hands every file it writes to the daemons' user (uid/gid 999, `cls` in
# the image, deploy/docker/Dockerfile).
#
# Environment (defaults are the Compose file's):
#   CLS_PKI_ROOT  /pki: ca/ holds the CA; out/NAME/ are the daemons' volumes
#   CLS_SITES     site ids, one kit each
#   CLS_COORDINATOR_HOST  the name sites and clsctl use for the coordinator
#   CLS_OWNER     uid:gid of the daemons ("" skips chown: a test as non-root)
set -euo pipefail

root=${CLS_PKI_ROOT:-/pki}
sites=${CLS_SITES:-HOSP_CLE HOSP_HUN HOSP_SWI}
host=${CLS_COORDINATOR_HOST:-coordinator}
owner=${CLS_OWNER-999:999}
operator=compose-admin
ca=$root/ca
pki() { cls-pki --dir "$ca" "$@" >/dev/null; }

if [[ ! -f $ca/ca.pem ]]; then
  pki init --name "Compose Consortium CA"
  pki issue coordinator "$host"
  pki issue operator "$operator" --role admin
  echo "pki-init: new CA, coordinator certificate for '$host', operator '$operator'"
fi
pki crl

put() {  # put MODE DEST_DIR/NAME SOURCE
  install -m "$1" "$3" "$2"
  [[ -z $owner ]] || chown "$owner" "$2"
}
common() {  # common DIR: the CA certificate and the CRL
  mkdir -p "$1"
  put 0644 "$1/ca.pem" "$ca/ca.pem"
  put 0644 "$1/ca-crl.pem" "$ca/ca-crl.pem"
}

out=$root/out/coordinator
common "$out"
put 0644 "$out/coordinator.pem" "$ca/issued/$host.pem"
put 0600 "$out/coordinator.key" "$ca/issued/$host.key"

out=$root/out/operator
common "$out"
put 0644 "$out/operator.pem" "$ca/issued/$operator.pem"
put 0600 "$out/operator.key" "$ca/issued/$operator.key"

for site in $sites; do
  kit=$ca/kits/$site
  [[ -f $kit/site.pem ]] || pki kit site "$site" --coordinator "$host:7443"
  out=$root/out/$site
  common "$out"
  put 0644 "$out/site.pem" "$kit/site.pem"
  put 0600 "$out/site.key" "$kit/site.key"
done
echo "pki-init: material for coordinator, operator and $sites is in place"
