#!/usr/bin/env bash
# PackageInstallTest: the three Debian packages from `make package`, unpacked
# into a temporary root (never installed on this machine): their file lists
# and modes, each binary's --version against this build's, --check-config of
# both daemons against the packaged example configs pointed at a temporary
# PKI made with the packaged cls-pki, then lintian and systemd-analyze verify
# when they are installed.
# Usage: package_install_test.sh DEB_DIR BUILD_BIN_DIR DEB_VERSION
set -euo pipefail

DEB_DIR=$1
BUILD_BIN=$2
DEB_VERSION=$3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cls-package-test.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/control"
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# ------------------------------------------------------------ the packages
declare -A DEB
for pkg in cls-coordinator cls-site-agent cls-tools; do
  found=("$DEB_DIR/${pkg}_${DEB_VERSION}"_*.deb)
  [[ -f ${found[0]} ]] ||
    die "no ${pkg}_${DEB_VERSION}_*.deb in $DEB_DIR: run make package"
  [[ ${#found[@]} -eq 1 ]] || die "several ${pkg}_${DEB_VERSION} packages in $DEB_DIR: ${found[*]}"
  DEB[$pkg]=${found[0]}
done

# Every file (not directory) each package ships, with its mode.
declare -A EXPECTED=(
  [cls-coordinator]="-rw-r--r-- ./etc/cls/coordinator.toml
-rw-r--r-- ./lib/systemd/system/cls-coordinator.service
-rwxr-xr-x ./usr/bin/cls-coordinator
-rw-r--r-- ./usr/share/doc/cls-coordinator/changelog.Debian.gz
-rw-r--r-- ./usr/share/doc/cls-coordinator/copyright
-rw-r--r-- ./usr/share/lintian/overrides/cls-coordinator
-rw-r--r-- ./usr/share/man/man1/cls-coordinator.1.gz"
  [cls-site-agent]="-rw-r--r-- ./etc/cls/site-agent.toml
-rw-r--r-- ./lib/systemd/system/cls-site-agent.service
-rwxr-xr-x ./usr/bin/cls-site-agent
-rw-r--r-- ./usr/share/doc/cls-site-agent/changelog.Debian.gz
-rw-r--r-- ./usr/share/doc/cls-site-agent/copyright
-rw-r--r-- ./usr/share/lintian/overrides/cls-site-agent
-rw-r--r-- ./usr/share/man/man1/cls-site-agent.1.gz"
  [cls-tools]="-rwxr-xr-x ./usr/bin/cls-pki
-rwxr-xr-x ./usr/bin/clsctl
-rw-r--r-- ./usr/share/doc/cls-tools/changelog.Debian.gz
-rw-r--r-- ./usr/share/doc/cls-tools/copyright
-rw-r--r-- ./usr/share/lintian/overrides/cls-tools
-rw-r--r-- ./usr/share/man/man1/cls-pki.1.gz
-rw-r--r-- ./usr/share/man/man1/clsctl.1.gz"
)
declare -A CONFFILE=([cls-coordinator]=/etc/cls/coordinator.toml
                     [cls-site-agent]=/etc/cls/site-agent.toml)
declare -A NEEDS=([cls-coordinator]=adduser [cls-site-agent]=adduser [cls-tools]=openssl)

for pkg in cls-coordinator cls-site-agent cls-tools; do
  deb=${DEB[$pkg]}
  [[ $(dpkg-deb -f "$deb" Package) == "$pkg" ]] || fail "$deb: Package is not $pkg"
  [[ $(dpkg-deb -f "$deb" Version) == "$DEB_VERSION" ]] || fail "$deb: Version is not $DEB_VERSION"
  depends=$(dpkg-deb -f "$deb" Depends)
  [[ ", $depends," == *", ${NEEDS[$pkg]},"* ]] || fail "$pkg: Depends lacks ${NEEDS[$pkg]}: $depends"
  [[ $depends == *libc6* ]] || fail "$pkg: Depends has no shared-library dependencies (dpkg-shlibdeps): $depends"
  # Owner root/root everywhere; the list of files with their modes exactly.
  listing=$(dpkg-deb -c "$deb")
  if grep -v ' root/root ' <<<"$listing" | grep -q .; then
    fail "$pkg: entries not owned by root/root"
  fi
  actual=$(awk '$1 !~ /^d/ {print $1, $6}' <<<"$listing" | LC_ALL=C sort -k2)
  if [[ $actual != "${EXPECTED[$pkg]}" ]]; then
    fail "$pkg: file list differs (want, got):
${EXPECTED[$pkg]}
--
$actual"
  fi
  dpkg-deb -x "$deb" "$ROOT"
  control=$WORK/control/$pkg
  dpkg-deb -e "$deb" "$control"
  if [[ -n ${CONFFILE[$pkg]:-} ]]; then
    [[ $(cat "$control/conffiles") == "${CONFFILE[$pkg]}" ]] ||
      fail "$pkg: conffiles is not ${CONFFILE[$pkg]}"
    for script in postinst prerm postrm; do
      [[ $(stat -c %a "$control/$script") == 755 ]] || fail "$pkg: $script is not mode 0755"
      sh -n "$control/$script" || fail "$pkg: $script has a shell syntax error"
    done
    [[ $(stat -c %a "$control/conffiles") == 644 ]] || fail "$pkg: conffiles is not mode 0644"
    grep -q 'adduser --quiet --system --group --home /var/lib/cls' "$control/postinst" ||
      fail "$pkg: postinst does not create the system user cls"
    if grep -Eq 'deb-systemd-invoke (start|restart)|systemctl (--system )?(start|enable)' "$control/postinst"; then
      fail "$pkg: postinst starts or enables the service (it needs a PKI first)"
    fi
  else
    for script in postinst prerm postrm conffiles; do
      [[ ! -e $control/$script ]] || fail "$pkg: unexpected $script"
    done
  fi
  pass "$pkg: control fields, file list, modes, maintainer scripts"
done

for page in "$ROOT"/usr/share/man/man1/*.1.gz; do
  gzip -t "$page" || fail "$page is not valid gzip"
  zcat "$page" | grep -q '^\.SH DESCRIPTION' || fail "$page has no DESCRIPTION"
done
zcat "$ROOT/usr/share/man/man1/clsctl.1.gz" | grep -qi 'exit codes' ||
  fail "clsctl.1 does not list the exit codes"
for bin in cls-coordinator cls-site-agent clsctl; do
  if readelf -S "$ROOT/usr/bin/$bin" | grep -q '\.debug_info'; then
    fail "$bin is not stripped"
  fi
done

# --------------------------------------------------------------- versions
for bin in cls-coordinator cls-site-agent clsctl; do
  want=$("$BUILD_BIN/$bin" --version)
  got=$("$ROOT/usr/bin/$bin" --version) || fail "$bin --version failed"
  if [[ $got == "$want" ]]; then
    pass "$got"
  else
    fail "packaged $bin --version is '$got', this build's is '$want' (stale packages: run make package)"
  fi
done
want="cls-pki ${want#clsctl }"
got=$("$ROOT/usr/bin/cls-pki" --version)
[[ $got == "$want" ]] && pass "$got" || fail "packaged cls-pki --version is '$got', want '$want'"

# Production binaries: the site agent's test hooks are compiled out.
if "$ROOT/usr/bin/cls-site-agent" --help | grep -q -- '--test-'; then
  fail "packaged cls-site-agent has test hooks (--test-* in --help)"
fi

# ------------------------------------------- the example configs, checked
# A PKI made with the packaged cls-pki, laid out as /etc/cls/pki would be.
PKI=("$ROOT/usr/bin/cls-pki" --dir "$WORK/pki")
"${PKI[@]}" init --name "Package Test CA" 2>/dev/null
"${PKI[@]}" issue coordinator 127.0.0.1 2>/dev/null
"${PKI[@]}" kit site HOSP_001 --coordinator 127.0.0.1:7443 --out "$WORK/kit" 2>/dev/null
ETC=$WORK/etc/cls
mkdir -p "$ETC/pki" "$WORK/var/lib/cls"
cp "$WORK/pki/ca.pem" "$WORK/pki/ca-crl.pem" "$ETC/pki/"
cp "$WORK/pki/issued/127.0.0.1.pem" "$ETC/pki/coordinator.pem"
cp "$WORK/pki/issued/127.0.0.1.key" "$ETC/pki/coordinator.key"
cp "$WORK/kit/site.pem" "$WORK/kit/site.key" "$ETC/pki/"

# A small synthetic CSV with the example's columns (never patient data).
CSV=$WORK/cohort.csv
{
  echo "age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,slope,ca,thal,num"
  for i in $(seq 0 23); do
    echo "$((40 + i)),$((i % 2)),$((1 + i % 4)),$((120 + i)),$((200 + 3 * i)),$((i % 2)),$((i % 3)),$((150 - i)),$((i / 2 % 2)),$((i % 5)).5,$((1 + i % 3)),$((i % 4)),$((i % 3 == 0 ? 3 : i % 3 == 1 ? 6 : 7)),$((i % 2))"
  done
} >"$CSV"

# adjust FILE OUT: the packaged config with only its paths moved.
adjust() {
  local expected_paths=$3
  local n
  n=$(grep -cE '"/(etc/cls/pki|var/lib/cls)/' "$1" || true)
  [[ $n -eq $expected_paths ]] ||
    fail "$1: expected $expected_paths paths under /etc/cls/pki and /var/lib/cls, found $n"
  sed -e "s#\"/etc/cls/pki/#\"$ETC/pki/#" -e "s#\"/var/lib/cls/#\"$WORK/var/lib/cls/#" \
      -e "s#^csv = \".*\"#csv = \"$CSV\"#" "$1" >"$2"
}
adjust "$ROOT/etc/cls/coordinator.toml" "$WORK/coordinator.toml" 5
adjust "$ROOT/etc/cls/site-agent.toml" "$WORK/site-agent.toml" 5
grep -q "^csv = \"$CSV\"" "$WORK/site-agent.toml" || fail "site-agent.toml has no [data] csv line"

check_config() {  # check_config BINARY CONFIG
  local out
  if out=$("$ROOT/usr/bin/$1" --check-config --config "$2" 2>&1); then
    grep -q 'configuration OK' <<<"$out" && pass "$1 --check-config" ||
      fail "$1 --check-config printed no 'configuration OK': $out"
  else
    fail "$1 --check-config --config $2 failed: $out"
  fi
}
check_config cls-coordinator "$WORK/coordinator.toml"
check_config cls-site-agent "$WORK/site-agent.toml"
# A check that cannot fail proves nothing: a wrong key must be refused.
sed -i 's#/coordinator.pem"#/missing.pem"#' "$WORK/coordinator.toml"
if "$ROOT/usr/bin/cls-coordinator" --check-config --config "$WORK/coordinator.toml" >/dev/null 2>&1; then
  fail "cls-coordinator --check-config accepted a missing certificate"
fi

# ------------------------------------------------------- the systemd units
for unit in cls-coordinator cls-site-agent; do
  file=$ROOT/lib/systemd/system/$unit.service
  config=${CONFFILE[$unit]}
  daemon=${config#/etc/cls/}; daemon=${daemon%.toml}
  for line in "User=cls" "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" \
      "PrivateTmp=yes" "PrivateDevices=yes" "CapabilityBoundingSet=" "Restart=on-failure" \
      "ExecReload=/bin/kill -HUP \$MAINPID" "ReadWritePaths=/var/lib/cls/$daemon" \
      "StateDirectory=cls/$daemon" "SystemCallFilter=@system-service" \
      "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
      "ExecStart=/usr/bin/$unit --config $config"; do
    grep -qxF "$line" "$file" || fail "$unit.service lacks '$line'"
  done
done
pass "units: hardening, reload and start lines"

if command -v systemd-analyze >/dev/null; then
  # verify checks that ExecStart exists on this machine: point it at the
  # unpacked binaries (the man pages were checked above).
  mkdir -p "$WORK/units"
  for unit in cls-coordinator cls-site-agent; do
    sed "s#=/usr/bin/#=$ROOT/usr/bin/#" "$ROOT/lib/systemd/system/$unit.service" >"$WORK/units/$unit.service"
  done
  # It exits 0 on unknown keys or bad values, but prints them: any output fails.
  if out=$(systemd-analyze verify --man=no "$WORK"/units/*.service 2>&1) && [[ -z $out ]]; then
    pass "systemd-analyze verify: both units"
  else
    fail "systemd-analyze verify: $out"
  fi
else
  echo "skip: systemd-analyze not installed (CLS_WITH_PACKAGING=1 scripts/install-deps.sh)"
fi

if command -v lintian >/dev/null; then
  if out=$(lintian --fail-on error,warning "${DEB[@]}" 2>&1); then
    pass "lintian: no errors or warnings"
  else
    fail "lintian: $out"
  fi
else
  echo "skip: lintian not installed (CLS_WITH_PACKAGING=1 scripts/install-deps.sh)"
fi

if [[ $failures -ne 0 ]]; then
  echo "PackageInstallTest: $failures failure(s)" >&2
  exit 1
fi
echo "PackageInstallTest: all checks passed"
