# What `cmake --install` puts where: binaries, systemd units, the example config, the plugin
# ABI header, the C++ client (headers, static libraries, CMake package `shmpool::client`).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS shmpoold shmpool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS shmpool_python LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/shmpool)
install(FILES ${PROJECT_SOURCE_DIR}/config/shmpoold.socket DESTINATION lib/systemd/system)
# The system user and group the service runs as (systemd-sysusers; the .deb's postinst runs it).
install(FILES ${PROJECT_SOURCE_DIR}/config/shmpool.sysusers DESTINATION lib/sysusers.d RENAME shmpool.conf)
# The service unit and the config file are placed when installing, with the prefix of the
# install (`--prefix`, or /usr under CPack): ExecStart names PREFIX/bin/shmpoold and the config
# PREFIX/etc/shmpool/shmpoold.conf, or /etc/shmpool/shmpoold.conf for prefix /usr (Debian).
install(CODE "set(SHMPOOL_SERVICE_IN \"${PROJECT_SOURCE_DIR}/config/shmpoold.service.in\")
set(SHMPOOL_CONF_EXAMPLE \"${PROJECT_SOURCE_DIR}/config/shmpoold.conf\")
set(SHMPOOL_STAGE \"${PROJECT_BINARY_DIR}/install-stage\")")
install(CODE [[
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(etc /etc)
  endif()
  set(SHMPOOLD_BIN "${CMAKE_INSTALL_PREFIX}/bin/shmpoold")
  set(SHMPOOLD_CONF "${etc}/shmpool/shmpoold.conf")
  configure_file("${SHMPOOL_SERVICE_IN}" "${SHMPOOL_STAGE}/shmpoold.service" @ONLY)
  file(INSTALL "${SHMPOOL_STAGE}/shmpoold.service" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
  # The installed config is the example with the service's one default set: members of the
  # group shmpool (the service's own, lib/sysusers.d/shmpool.conf) may connect.
  file(READ "${SHMPOOL_CONF_EXAMPLE}" conf)
  file(WRITE "${SHMPOOL_STAGE}/shmpoold.conf" "${conf}
# --- set by the package: the service runs as user shmpool, and members of group shmpool may
# connect (add users with `adduser USER shmpool`). Remove the line to allow only root.
allow-groups = shmpool
")
  file(INSTALL "${SHMPOOL_STAGE}/shmpoold.conf" DESTINATION "${etc}/shmpool")
]])

# The client library: headers under include/shmpool/client (they include "client/..."), the
# static libraries, and the exported targets shmpool::client (and shmpool::common under it).
install(FILES client/client.h client/client_errors.h client/job_value.h client/line_socket.h client/requests.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shmpool/client)
install(FILES common/unique_fd.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shmpool/common)
set_target_properties(shmpool_client PROPERTIES EXPORT_NAME client)
set_target_properties(shmpool_common PROPERTIES EXPORT_NAME common)
target_include_directories(shmpool_client INTERFACE
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/shmpool>)
install(TARGETS shmpool_client shmpool_common EXPORT shmpoolTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(SHMPOOL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/shmpool)
install(EXPORT shmpoolTargets NAMESPACE shmpool:: DESTINATION ${SHMPOOL_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/shmpoolConfig.cmake.in
  ${PROJECT_BINARY_DIR}/shmpoolConfig.cmake INSTALL_DESTINATION ${SHMPOOL_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shmpoolConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shmpoolConfig.cmake ${PROJECT_BINARY_DIR}/shmpoolConfigVersion.cmake
        DESTINATION ${SHMPOOL_CMAKE_DIR})

install(FILES README.md docs/protocol.md docs/architecture.md docs/plugins.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY examples/client DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
