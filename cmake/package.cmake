# The Debian package (cpack -G DEB, or `cmake --build --preset release --target package`)
# and the source tarball (target package_source).
#
# The package holds what `cmake --install` installs: the binary, the man page (gzipped, as
# Debian and every man(1) reader expect), the completions, the udev rules, and the Debian
# changelog and copyright. The udev rules are written at build time by the binary itself
# (`omvdev udev install --print`), so the package and `omvdev udev install` cannot disagree.
# Dependencies are computed by dpkg-shlibdeps from the libraries the binary links.

# Optimised builds are the ones packaged: Debian's hardening (fortified libc calls, a
# read-only GOT bound at start-up), as dpkg-buildflags would set them.
target_compile_definitions(libomvdev PRIVATE
  $<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:_FORTIFY_SOURCE=2>)
target_link_options(omvdev PRIVATE $<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:LINKER:-z,relro,-z,now>)
target_link_options(omvdev-cc PRIVATE $<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:LINKER:-z,relro,-z,now>)

set(pkg_gen ${CMAKE_CURRENT_BINARY_DIR}/gen)
add_custom_command(
  OUTPUT ${pkg_gen}/99-omvdev.rules
  COMMAND ${CMAKE_COMMAND} -E env XDG_CONFIG_HOME=/nonexistent
          $<TARGET_FILE:omvdev> -q udev install --print > gen/99-omvdev.rules
  DEPENDS omvdev
  WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
  COMMENT "Writing the udev rules with omvdev udev install --print")
add_custom_command(
  OUTPUT ${pkg_gen}/omvdev.1.gz ${pkg_gen}/changelog.gz
  COMMAND gzip -9n -c gen/omvdev.1 > gen/omvdev.1.gz
  COMMAND gzip -9n -c ${CMAKE_CURRENT_SOURCE_DIR}/cmake/debian/changelog > gen/changelog.gz
  DEPENDS ${pkg_gen}/omvdev.1 ${CMAKE_CURRENT_SOURCE_DIR}/cmake/debian/changelog
  WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
  COMMENT "Compressing the man page and the changelog")
add_custom_target(package_files ALL
  DEPENDS ${pkg_gen}/99-omvdev.rules ${pkg_gen}/omvdev.1.gz ${pkg_gen}/changelog.gz)

# udev reads /usr/lib/udev/rules.d (and /etc/udev/rules.d, where `omvdev udev install` writes
# the same file, which then takes precedence): not under CMAKE_INSTALL_LIBDIR.
install(FILES ${pkg_gen}/99-omvdev.rules DESTINATION lib/udev/rules.d)
install(FILES ${pkg_gen}/changelog.gz ${CMAKE_CURRENT_SOURCE_DIR}/cmake/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/omvdev)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME omvdev)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "omvdev maintainers <maintainers@users.noreply.h-seed-028fa5bc.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "command-line companion for OpenMV firmware developers")
set(CPACK_PACKAGE_DESCRIPTION
  "omvdev does the whole loop of changing the OpenMV camera firmware: it\n\
installs the pinned SDK, builds a board, sets up VS Code for on-chip\n\
debugging, flashes the camera over USB DFU with its own libusb backend,\n\
recovers a bricked camera, and explains every failure with the command\n\
that fixes it.")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/openmv/openmv")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "udev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "dfu-util, gdb-multiarch, openocd")

set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_PACKAGE_FILE_NAME omvdev-${PROJECT_VERSION})
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/\\\\.git$" "/build/" "/\\\\.cache/" "/node_modules/"
  "/\\\\.vscode/")
include(CPack)
