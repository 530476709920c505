#!/bin/bash
# cls-install-packages DIR PACKAGE...: installs, with apt (so their Debian
# dependencies come along), the .deb files in DIR whose Package field is one
# of PACKAGE. Matched by the field, not by file name, so the image does not
# depend on how CPack names the files. Used only while building the image.
set -euo pipefail
dir=$1; shift
debs=()
for want in "$@"; do
  found=""
  for f in "$dir"/*.deb; do
    [[ -e $f ]] || break
    if [[ $(dpkg-deb --field "$f" Package) == "$want" ]]; then found=$f; break; fi
  done
  [[ -n $found ]] || { echo "cls-install-packages: no package '$want' among $dir/*.deb (did 'make package' build it?)" >&2; exit 1; }
  debs+=("$found")
done
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${debs[@]}"
rm -rf /var/lib/apt/lists/*
