#!/usr/bin/env bash
# PythonPackageInstallTest: `pip install ./python` into a fresh venv with no
# package index (as on the project's offline machines), then the import from
# the venv's interpreter, outside the source tree: the installed copy, not
# the sources, answers.
# Usage: python_install_test.sh PYTHON PACKAGE_DIR WORK_DIR
set -euo pipefail

PYTHON=$1
PACKAGE=$2
WORK=$3
rm -rf -- "$WORK"
mkdir -p "$WORK"
trap 'rm -rf -- "$WORK"' EXIT

"$PYTHON" -m venv "$WORK/venv"
# No index at all: anything pip tried to download would fail the test.
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
unset PYTHONPATH
# pip builds from a copy in its own temporary folder; the source tree gets
# no build/ or egg-info.
"$WORK/venv/bin/python" -m pip install --quiet "$PACKAGE"

cd "$WORK"
"$WORK/venv/bin/python" - "$WORK/venv" <<'PY'
import os, sys
import continuous_learning_system as cls
venv = os.path.realpath(sys.argv[1])
where = os.path.realpath(cls.__file__)
assert where.startswith(venv + os.sep), f"imported from {where}, not the venv"
from continuous_learning_system import (ContinuousLearningSystem, DeploymentStrategy,
                                        Federation, ModelType, PermissionDenied, SiteClient)
assert ContinuousLearningSystem is Federation
assert DeploymentStrategy.GRADUAL_ROLLOUT.value == "gradual_rollout"
assert ModelType.DIAGNOSIS_PREDICTOR.value == "diagnosis_predictor"
assert issubclass(PermissionDenied, PermissionError)
print(f"ok: continuous_learning_system {cls.__version__} from {where}")
PY
shown=$("$WORK/venv/bin/python" -m pip show continuous-learning-system)
grep -qx 'Version: 0.1.0' <<<"$shown" || { echo "FAIL: pip show: $shown" >&2; exit 1; }
# And out again.
"$WORK/venv/bin/python" -m pip uninstall --yes --quiet continuous-learning-system
if "$WORK/venv/bin/python" -c 'import continuous_learning_system' 2>/dev/null; then
  echo "FAIL: still importable after pip uninstall" >&2
  exit 1
fi
echo "ok: installed offline, imported from the venv, uninstalled"
