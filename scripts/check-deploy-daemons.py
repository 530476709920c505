#!/usr/bin/env python3
"""The real daemons' --check-config on every config under deploy/.

scripts/check-deploy.py checks deploy/ statically; this one asks the
parsers themselves. It runs deploy/docker/pki-init.sh (with the repository's
certs/cls-pki) into a temporary folder, maps each config's container paths
(/etc/cls/pki, /data, /var/lib/cls/...) onto that folder and the
heart-disease data, and runs `cls-coordinator --check-config` and
`cls-site-agent --check-config` on the Compose configs and on the
ConfigMaps the two Helm charts render (the coordinator's, and the site
agent's with each hospital's values file). No container runtime needed.

Usage: check-deploy-daemons.py BIN_DIR [REPO_ROOT]
Exit 0: every config accepted. 1: a config refused (the daemon's message is
shown). 77 (ctest: skipped): the daemons in BIN_DIR do not know a config key
the shared contract of issue 12 adds (metrics_listen, log_*), i.e. they
predate that work; the configs were accepted with those keys removed.
Data: CLS_DATA_DIR, else ../shared/data/heart-disease beside the checkout;
without it the site configs are not checked (said so, exit 77 if nothing
else ran).
"""

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

if len(sys.argv) < 2:
    sys.exit(__doc__)
BIN = Path(sys.argv[1]).resolve()
ROOT = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CLS_DATA_DIR") or ROOT.parent / "shared" / "data" / "heart-disease")

# The static checker's chart renderer (one renderer, not two).
_spec = importlib.util.spec_from_file_location("check_deploy", ROOT / "scripts" / "check-deploy.py")
check_deploy = importlib.util.module_from_spec(_spec)
_argv, sys.argv = sys.argv, [sys.argv[0], str(ROOT)]
_spec.loader.exec_module(check_deploy)
sys.argv = _argv

CONTRACT_KEY_RE = re.compile(r"unknown key '(?:\S*\.)?(" + "|".join(sorted(check_deploy.CONTRACT_KEYS)) + r")'")


def rendered_config(chart, daemon, values_file=None):
    values = check_deploy.load_yaml(chart / "values.yaml")
    if values_file:
        values = check_deploy.merge(values, check_deploy.load_yaml(values_file))
    out = check_deploy.render_chart(chart, values)
    cm = next(d for d in yaml.safe_load_all(out["configmap.yaml"]) if d)
    return cm["data"][f"{daemon}.toml"], values


def main():
    configs = []  # (label, daemon, toml text, pki name)
    docker = ROOT / "deploy" / "docker"
    configs.append(("deploy/docker/coordinator.toml", "coordinator", (docker / "coordinator.toml").read_text(), "coordinator"))
    for f in sorted((docker / "sites").glob("*.toml")):
        configs.append((f"deploy/docker/sites/{f.name}", "site-agent", f.read_text(), f.stem))
    helm = ROOT / "deploy" / "helm"
    text, _ = rendered_config(helm / "cls-coordinator", "coordinator")
    configs.append(("cls-coordinator chart ConfigMap", "coordinator", text, "coordinator"))
    for f in sorted((helm / "cls-site-agent").glob("values-*.yaml")):
        text, values = rendered_config(helm / "cls-site-agent", "site-agent", f)
        configs.append((f"cls-site-agent chart ConfigMap with {f.name}", "site-agent", text, values["site"]["id"]))

    sites = sorted({pki for _, d, _, pki in configs if d == "site-agent"})
    have_data = DATA.is_dir()
    if not have_data:
        print(f"note: no heart-disease data at {DATA} (set CLS_DATA_DIR); site configs not checked")

    refused, predates, ran = [], [], 0
    with tempfile.TemporaryDirectory(prefix="cls-deploy-check.") as tmp:
        tmp = Path(tmp)
        tools = tmp / "bin"
        tools.mkdir()
        (tools / "cls-pki").symlink_to(ROOT / "certs" / "cls-pki")
        env = dict(os.environ, PATH=f"{tools}:{os.environ.get('PATH', '')}", CLS_PKI_ROOT=str(tmp / "pki"),
                   CLS_OWNER="", CLS_SITES=" ".join(sites), CLS_COORDINATOR_HOST="coordinator")
        r = subprocess.run(["bash", str(docker / "pki-init.sh")], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"check-deploy-daemons: deploy/docker/pki-init.sh failed:\n{r.stderr}", file=sys.stderr)
            return 1
        for n, (label, daemon, text, pki) in enumerate(configs):
            if daemon == "site-agent" and not have_data:
                continue
            state = tmp / "state" / str(n)
            state.mkdir(parents=True)
            text = text.replace("/etc/cls/pki/", f"{tmp}/pki/out/{pki}/").replace('"/data/', f'"{DATA}/')
            text = re.sub(r'"/var/lib/cls/[a-z-]+"', f'"{state}"', text)
            # A contract key the daemons do not know yet is removed and the
            # config checked again, so every other key is still checked.
            removed = []
            while True:
                path = tmp / f"config{n}.toml"
                path.write_text(text)
                r = subprocess.run([str(BIN / f"cls-{daemon}"), "--check-config", "--config", str(path)],
                                   capture_output=True, text=True, timeout=120)
                out = (r.stdout + r.stderr).strip()
                m = CONTRACT_KEY_RE.search(out) if r.returncode != 0 else None
                if not m or m.group(1) in removed:
                    break
                removed.append(m.group(1))
                text = re.sub(rf"(?m)^{m.group(1)}\s*=.*$", "", text)
            ran += 1
            if r.returncode != 0:
                refused.append(f"{label} (cls-{daemon} --check-config, exit {r.returncode}):\n    " +
                               "\n    ".join(out.splitlines()[-5:]))
                continue
            last = out.splitlines()[-1] if out else ""
            if removed:
                predates.append(f"{label}: accepted without {', '.join(removed)}, which cls-{daemon} does not know yet")
            else:
                print(f"ok   {label}: {last}")
    if refused:
        print(f"check-deploy-daemons: {len(refused)} config(s) refused:", file=sys.stderr)
        for x in refused:
            print(f"  {x}", file=sys.stderr)
        return 1
    if predates or ran == 0:
        for x in predates:
            print(f"skip {x}")
        print(f"check-deploy-daemons: the daemons in {BIN} predate the contract's config keys; "
              "everything else was accepted")
        return 77
    print(f"check-deploy-daemons: {ran} configs accepted by the daemons in {BIN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
