# command_libpq.cmake: cronlock_command_libpq, the libpq the cronlock command links.
#
# A crontab starts cronlock every tick, so its start-up counts. The shared libpq pulls
# in OpenSSL, Kerberos and OpenLDAP (with GnuTLS, SASL and more: 25 libraries on
# Debian 12), about 3 ms to load and relocate on every run, more than the rest of
# cronlock's own start. Where the static pieces are installed (libpq.a from libpq-dev,
# libpgcommon_shlib.a and libpgport_shlib.a from postgresql-server-dev, libssl.a and
# libcrypto.a from libssl-dev), the command links libpq and OpenSSL statically and
# opens Kerberos and OpenLDAP only when a connection uses them
# (src/lazy_auth_libs.cpp). The price: a security update of libpq or OpenSSL reaches
# the command when it is rebuilt. -DCRONLOCK_STATIC_LIBPQ=OFF, or a missing piece,
# links the shared libpq instead. The installed libcronlock libraries always do.

option(CRONLOCK_STATIC_LIBPQ "link libpq and OpenSSL into the cronlock command" ON)
execute_process(COMMAND pg_config --libdir OUTPUT_VARIABLE PG_LIBDIR
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND pg_config --pkglibdir OUTPUT_VARIABLE PG_PKGLIBDIR
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
find_library(LIBPQ_STATIC NAMES libpq.a HINTS ${PG_LIBDIR} ${LIBPQ_LIBRARY_DIRS})
find_library(LIBPQ_SHARED NAMES libpq.so.5 libpq.so HINTS ${PG_LIBDIR} ${LIBPQ_LIBRARY_DIRS})
find_library(PGCOMMON_SHLIB NAMES libpgcommon_shlib.a HINTS ${PG_PKGLIBDIR} NO_DEFAULT_PATH)
find_library(PGPORT_SHLIB NAMES libpgport_shlib.a HINTS ${PG_PKGLIBDIR} NO_DEFAULT_PATH)
find_library(LIBSSL_STATIC NAMES libssl.a)
find_library(LIBCRYPTO_STATIC NAMES libcrypto.a)

# The Kerberos and LDAP libraries the shared libpq loads: the ones to open on demand.
set(LIBPQ_GSSAPI_SONAME "")
set(LIBPQ_LDAP_SONAME "")
if(LIBPQ_SHARED)
  execute_process(COMMAND objdump -p ${LIBPQ_SHARED} OUTPUT_VARIABLE LIBPQ_DYNAMIC ERROR_QUIET)
  string(REGEX MATCH "NEEDED +(libgssapi[^\n ]*)" _ "${LIBPQ_DYNAMIC}")
  set(LIBPQ_GSSAPI_SONAME "${CMAKE_MATCH_1}")
  string(REGEX MATCH "NEEDED +(libldap[^\n ]*)" _ "${LIBPQ_DYNAMIC}")
  set(LIBPQ_LDAP_SONAME "${CMAKE_MATCH_1}")
endif()
include(CheckIncludeFileCXX)
check_include_file_cxx(gssapi/gssapi.h HAVE_GSSAPI_H)
check_include_file_cxx(ldap.h HAVE_LDAP_H)

add_library(cronlock_command_libpq INTERFACE)
if(CRONLOCK_STATIC_LIBPQ AND LIBPQ_STATIC AND PGCOMMON_SHLIB AND PGPORT_SHLIB AND LIBSSL_STATIC
   AND LIBCRYPTO_STATIC AND LIBPQ_GSSAPI_SONAME AND LIBPQ_LDAP_SONAME AND HAVE_GSSAPI_H
   AND HAVE_LDAP_H)
  message(STATUS "cronlock command: libpq and OpenSSL linked statically, "
                 "${LIBPQ_GSSAPI_SONAME} and ${LIBPQ_LDAP_SONAME} opened on first use")
  add_library(cronlock_lazy_auth_libs STATIC src/lazy_auth_libs.cpp)
  target_compile_definitions(cronlock_lazy_auth_libs PRIVATE
      CRONLOCK_GSSAPI_LIBRARY="${LIBPQ_GSSAPI_SONAME}" CRONLOCK_LDAP_LIBRARY="${LIBPQ_LDAP_SONAME}")
  # Order matters: each archive resolves what the ones before it left open.
  target_link_libraries(cronlock_command_libpq INTERFACE
      ${LIBPQ_STATIC} ${PGCOMMON_SHLIB} ${PGPORT_SHLIB} cronlock_lazy_auth_libs
      ${LIBSSL_STATIC} ${LIBCRYPTO_STATIC} ${CMAKE_DL_LIBS} Threads::Threads)
  target_compile_definitions(cronlock_command_libpq INTERFACE CRONLOCK_COMMAND_STATIC_LIBPQ=1)
else()
  message(STATUS "cronlock command: shared libpq (off, or libpq.a, libpgcommon_shlib.a, "
                 "libssl.a, gssapi.h or ldap.h not found)")
  target_link_libraries(cronlock_command_libpq INTERFACE PkgConfig::LIBPQ)
endif()
