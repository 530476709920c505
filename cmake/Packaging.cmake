# Debian packages (make package; docs/deployment.md): cls-coordinator,
# cls-site-agent and cls-tools (clsctl, cls-pki), one CPack component each.
# Included by the top CMakeLists.txt when CLS_PACKAGE=ON, after the targets.
# Layout (docs/deployment.md): binaries in /usr/bin, example configs in
# /etc/cls (conffiles), units in /lib/systemd/system (Debian 12's place),
# man pages made by help2man from each program's --help and --version.

include(GNUInstallDirs)

set(CLS_PKG_SRC ${PROJECT_SOURCE_DIR}/packaging)
set(CLS_PKG_OUT ${CMAKE_BINARY_DIR}/packaging)
string(REGEX REPLACE "^.*-" "" CLS_DEB_RELEASE ${CLS_DEB_VERSION})
set(CLS_MAINTAINER
  "Clinical federated learning maintainers <maintainers@users.noreply.r-seed-ec93486c.example>")
set(CLS_SYSTEMD_UNITDIR /lib/systemd/system)
set(CLS_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/cls)

find_program(CLS_HELP2MAN help2man)
find_program(CLS_GZIP gzip REQUIRED)
if(NOT CLS_HELP2MAN)
  message(FATAL_ERROR "CLS_PACKAGE=ON needs help2man for the man pages: "
    "run CLS_WITH_PACKAGING=1 scripts/install-deps.sh (make package does)")
endif()

# cls-pki with the build's version line (cmake/write_cls_pki.cmake). Runs at
# every build, like the C++ revision file it reads.
set(CLS_PKI_OUT ${CLS_PKG_OUT}/cls-pki)
add_custom_target(cls_pki ALL
  COMMAND ${CMAKE_COMMAND} -DINPUT=${PROJECT_SOURCE_DIR}/certs/cls-pki
          -DOUTPUT=${CLS_PKI_OUT}
          -DREVISION_FILE=${CMAKE_BINARY_DIR}/common/version_revision.cc
          -DPROJECT_VERSION=${PROJECT_VERSION}
          -P ${PROJECT_SOURCE_DIR}/cmake/write_cls_pki.cmake
  COMMAND chmod 0755 ${CLS_PKI_OUT}
  BYPRODUCTS ${CLS_PKI_OUT}
  COMMENT "" VERBATIM)
add_dependencies(cls_pki cls_version_revision)

# cls_man_page(PROGRAM COMMAND NAME DEPENDS...): PROGRAM.1.gz from help2man.
# The date in the page is SOURCE_DATE_EPOCH when set (reproducible builds).
set(CLS_MAN_PAGES)
function(cls_man_page program command name)
  set(out ${CLS_PKG_OUT}/man/${program}.1.gz)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CLS_PKG_OUT}/man
    COMMAND sh -c "\"$0\" --no-info --name=\"$1\" --include=\"$2\" \"$3\" | \"$4\" -9n > \"$5\""
            ${CLS_HELP2MAN} ${name} ${CLS_PKG_SRC}/man/${program}.h2m
            ${command} ${CLS_GZIP} ${out}
    DEPENDS ${ARGN} ${CLS_PKG_SRC}/man/${program}.h2m
    COMMENT "man page ${program}.1" VERBATIM)
  set(CLS_MAN_PAGES ${CLS_MAN_PAGES} ${out} PARENT_SCOPE)
endfunction()
cls_man_page(cls-coordinator $<TARGET_FILE:cls-coordinator>
  "coordinator of a clinical federated-learning consortium" cls-coordinator)
cls_man_page(cls-site-agent $<TARGET_FILE:cls-site-agent>
  "site agent of a clinical federated-learning consortium" cls-site-agent)
cls_man_page(clsctl $<TARGET_FILE:clsctl>
  "operator console for the federated-learning coordinator" clsctl)
cls_man_page(cls-pki ${CLS_PKI_OUT}
  "certificate authority for the clinical federated-learning consortium"
  cls_pki ${CLS_PKI_OUT})

# Per package: a Debian changelog (gzip -9n: no name or time stamp in it),
# and for the daemons the maintainer scripts and conffiles.
string(TIMESTAMP CLS_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(CLS_PACKAGE_FILES)
function(cls_package_files package component binary)
  set(PACKAGE ${package})
  set(BINARY ${binary})
  set(DEB_VERSION ${CLS_DEB_VERSION})
  set(MAINTAINER ${CLS_MAINTAINER})
  set(DATE ${CLS_CHANGELOG_DATE})
  set(dir ${CLS_PKG_OUT}/${package})
  configure_file(${CLS_PKG_SRC}/debian/changelog.in ${dir}/changelog.Debian @ONLY)
  add_custom_command(OUTPUT ${dir}/changelog.Debian.gz
    COMMAND ${CLS_GZIP} -9nkf ${dir}/changelog.Debian
    DEPENDS ${dir}/changelog.Debian VERBATIM)
  set(CLS_PACKAGE_FILES ${CLS_PACKAGE_FILES} ${dir}/changelog.Debian.gz PARENT_SCOPE)
  set(docdir ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package})
  install(FILES ${CLS_PKG_SRC}/debian/copyright ${dir}/changelog.Debian.gz
    DESTINATION ${docdir} COMPONENT ${component})
  install(FILES ${CLS_PKG_SRC}/debian/lintian-overrides/${package}
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
    COMPONENT ${component})
endfunction()

# cls_daemon(PACKAGE COMPONENT DAEMON CONFIG STATE): binary, unit, config,
# maintainer scripts for one daemon.
function(cls_daemon package component daemon config state)
  set(PACKAGE ${package})
  set(DAEMON ${daemon})
  set(STATE ${state})
  set(dir ${CLS_PKG_OUT}/${package}/control)
  foreach(script postinst prerm postrm)
    configure_file(${CLS_PKG_SRC}/debian/${script}.in ${dir}/${script} @ONLY
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
      GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${dir}/conffiles "${CLS_SYSCONFDIR}/${config}\n")
  string(TOUPPER ${component} upper)
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA
    ${dir}/conffiles ${dir}/postinst ${dir}/prerm ${dir}/postrm PARENT_SCOPE)
  install(TARGETS ${package} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    COMPONENT ${component})
  install(FILES ${CLS_PKG_SRC}/config/${config} DESTINATION ${CLS_SYSCONFDIR}
    COMPONENT ${component})
  install(FILES ${CLS_PKG_SRC}/systemd/${package}.service
    DESTINATION ${CLS_SYSTEMD_UNITDIR} COMPONENT ${component})
  install(FILES ${CLS_PKG_OUT}/man/${package}.1.gz
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${component})
endfunction()

cls_daemon(cls-coordinator coordinator coordinator coordinator.toml
  "the database: privacy ledger, audit log, model versions, and the model key")
cls_daemon(cls-site-agent siteagent site-agent site-agent.toml
  "the global model, status and online-learning state")
cls_package_files(cls-coordinator coordinator cls-coordinator)
cls_package_files(cls-site-agent siteagent cls-site-agent)
cls_package_files(cls-tools tools clsctl)

install(TARGETS clsctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT tools)
install(PROGRAMS ${CLS_PKI_OUT} DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT tools)
install(FILES ${CLS_PKG_OUT}/man/clsctl.1.gz ${CLS_PKG_OUT}/man/cls-pki.1.gz
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)

# What cpack needs built: the binaries (their targets), cls-pki, man pages
# and changelogs. `make package` builds this target and runs cpack.
add_custom_target(cls_package_inputs ALL DEPENDS ${CLS_MAN_PAGES} ${CLS_PACKAGE_FILES})
add_dependencies(cls_package_inputs cls-coordinator cls-site-agent clsctl cls_pki)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cls)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Clinical federated learning maintainers")
set(CPACK_PACKAGE_CONTACT ${CLS_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING IGNORE)
set(CPACK_COMPONENTS_ALL coordinator siteagent tools)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${CLS_DEB_RELEASE})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${CLS_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_COORDINATOR_PACKAGE_NAME cls-coordinator)
set(CPACK_DEBIAN_COORDINATOR_PACKAGE_SECTION science)
set(CPACK_DEBIAN_COORDINATOR_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_COORDINATOR_PACKAGE_SUGGESTS cls-tools)
set(CPACK_COMPONENT_COORDINATOR_DESCRIPTION
"coordinator of a clinical federated-learning consortium
Runs federated training rounds with hospital site agents over mutual TLS 1.3
using secure aggregation: the coordinator learns only the sum of the sites'
masked model updates. It keeps the privacy ledger, a tamper-evident audit log
and encrypted model versions in a SQLite database under /var/lib/cls.
The systemd service is installed but not enabled: it needs its certificate
in /etc/cls/pki first.")

set(CPACK_DEBIAN_SITEAGENT_PACKAGE_NAME cls-site-agent)
set(CPACK_DEBIAN_SITEAGENT_PACKAGE_SECTION science)
set(CPACK_DEBIAN_SITEAGENT_PACKAGE_DEPENDS adduser)
set(CPACK_COMPONENT_SITEAGENT_DESCRIPTION
"site agent of a clinical federated-learning consortium
Trains a model on a hospital's own CSV data and takes part in the
consortium's secure federated rounds. Patient data never leaves the machine:
only clipped, quantized and masked model updates are sent, over mutual
TLS 1.3. Optionally serves predictions to the hospital's own systems.
The systemd service is installed but not enabled: it needs the site's
start-up kit in /etc/cls/pki and the data settings first.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME cls-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS openssl)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
"operator tools for a clinical federated-learning consortium
clsctl is the operator console of the coordinator's admin API (sites, rounds,
model versions, privacy budget, audit log). cls-pki is the consortium's small
certificate authority: it issues the coordinator, site and operator
certificates and writes the hospitals' start-up kits.")

include(CPack)
