# CPack: `cpack -G DEB` in a build tree makes shmpool_<version>_<arch>.deb, installed under
# /usr with the config in /etc (a conffile). scripts/package.sh builds it portably.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME shmpool)
set(CPACK_PACKAGE_VENDOR "shmpool")
set(CPACK_PACKAGE_CONTACT "shmpool maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "local job server: preforked workers over shared-memory datasets")
set(CPACK_PACKAGE_DESCRIPTION "shmpoold runs numeric jobs in a pool of preforked workers that map large read-only
inputs from shared memory; clients talk JSON lines over a Unix socket. Includes the shmpool CLI,
systemd units, and the C++ client library with its CMake package.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# DESTDIR staging, so the absolute /etc path of the config lands inside the package.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
# Run-time dependencies of the binaries (libc, libstdc++, Boost.Program_options, libsystemd,
# serial OpenBLAS) come from dpkg-shlibdeps; the client's headers need these to build against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nlohmann-json3-dev (>= 3.10), libboost-program-options-dev (>= 1.74), cmake")
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles "/etc/shmpool/shmpoold.conf\n")
# postinst creates the user and group shmpool the service runs as (lib/sysusers.d/shmpool.conf).
configure_file(${PROJECT_SOURCE_DIR}/config/shmpool.postinst ${PROJECT_BINARY_DIR}/debian/postinst COPYONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/conffiles ${PROJECT_BINARY_DIR}/debian/postinst)
include(CPack)
