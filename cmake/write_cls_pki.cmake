# Writes the installed copy of certs/cls-pki with its version line filled in
# from the same generated file the C++ binaries compile (version_revision.cc),
# so `cls-pki --version` and `cls-coordinator --version` always agree.
# Touches OUTPUT only when its content changes.
# Called by the cls_pki target in cmake/Packaging.cmake with
# -DINPUT=... -DOUTPUT=... -DREVISION_FILE=... -DPROJECT_VERSION=...
file(READ "${REVISION_FILE}" generated)
if(NOT generated MATCHES "kGitRevision\\[\\] = \"([^\"]*)\"")
  message(FATAL_ERROR "no kGitRevision in ${REVISION_FILE}")
endif()
set(line "cls-pki ${PROJECT_VERSION} (git ${CMAKE_MATCH_1})")
file(READ "${INPUT}" script)
string(REPLACE "@CLS_PKI_VERSION_LINE@" "${line}" script "${script}")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL script)
  file(WRITE "${OUTPUT}" "${script}")
endif()
