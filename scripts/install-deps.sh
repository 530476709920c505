#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, and only those missing.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ccache
  libssl-dev openssl
  libboost1.74-dev libboost-system1.74-dev
  capnproto libcapnp-dev
  libspdlog-dev libfmt-dev
  libeigen3-dev
  libsqlite3-dev sqlite3
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev
  python3
  # The Python package's tests (PythonClientTest, PythonBindingTest), the
  # offline install into a venv (PythonPackageInstallTest; python3-venv
  # brings pip's wheel) and the pybind11 binding _cls_core of core/.
  python3-pytest python3-venv pybind11-dev python3-dev python3-numpy
  # PyYAML: DeployStaticCheck's Compose and chart files, OpenApiYamlTest.
  python3-yaml
  chromium  # clsctl dashboard's browser test (DashboardIntegrationTest)
)
# make package: lintian checks the .deb files, help2man writes the man pages,
# systemd provides systemd-analyze (PackageInstallTest verifies the units).
if [[ "${CLS_WITH_PACKAGING:-0}" == "1" ]]; then
  packages+=(lintian help2man systemd)
fi
# Optional extras: libFuzzer (fuzz target), scikit-learn (benchmark peer), wrk.
if [[ "${CLS_WITH_EXTRAS:-0}" == "1" ]]; then
  packages+=(clang libfuzzer-14-dev python3-sklearn wrk)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
