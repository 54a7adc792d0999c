# Install check: installs the built library into a temporary prefix with `cmake --install`, then
# configures, builds and runs examples/embed against it as an external project
# (find_package(itscale) -> itscale::itscale), and builds the same program with the flags of the
# installed itscale.pc. Included by tests/CMakeLists.txt it registers the test; run with -P it
# performs the check.
if(CMAKE_SCRIPT_MODE_FILE)
  function(its_run what)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
    endif()
    set(ITS_OUT "${out}" PARENT_SCOPE)
  endfunction()

  set(prefix ${WORK}/prefix)
  file(REMOVE_RECURSE ${WORK})
  file(MAKE_DIRECTORY ${WORK})
  its_run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix})
  foreach(f include/itscale.h include/itscale/backend.h include/itscale/gmm.h
            ${LIBDIR}/cmake/itscale/itscaleConfig.cmake
            ${LIBDIR}/cmake/itscale/itscaleConfigVersion.cmake
            ${LIBDIR}/cmake/itscale/itscaleTargets.cmake ${LIBDIR}/pkgconfig/itscale.pc)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "not installed: ${f}")
    endif()
  endforeach()
  file(GLOB sonames ${prefix}/${LIBDIR}/libitscale.so.${VERSION_MAJOR})
  if(NOT sonames)
    message(FATAL_ERROR "libitscale.so.${VERSION_MAJOR} (the soname) is not installed")
  endif()

  # A sanitizer build's library needs the sanitizer runtime in the program too.
  set(extra_flags "")
  if(SANITIZE)
    set(extra_flags "-fsanitize=address,undefined")
  endif()

  # 1. CMake package: a standalone project that only knows the prefix.
  its_run("configure examples/embed" ${CMAKE_COMMAND} -S ${SOURCE}/examples/embed -B ${WORK}/embed
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=${CC} -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_C_FLAGS=${extra_flags}
    -DCMAKE_EXE_LINKER_FLAGS=${extra_flags})
  file(STRINGS ${WORK}/embed/CMakeCache.txt dir_line REGEX "^itscale_DIR:")
  if(NOT dir_line MATCHES "${prefix}/")
    message(FATAL_ERROR "examples/embed found itscale outside the test prefix: ${dir_line}")
  endif()
  its_run("build examples/embed" ${CMAKE_COMMAND} --build ${WORK}/embed)
  its_run("run examples/embed" ${WORK}/embed/its_embed)
  if(NOT ITS_OUT MATCHES "best_of_n")
    message(FATAL_ERROR "unexpected output of its_embed: ${ITS_OUT}")
  endif()
  message(STATUS "find_package(itscale): ${ITS_OUT}")

  # 2. pkg-config: the installed itscale.pc gives working flags; it finds its prefix from its own
  # location (${pcfiledir}), so an install with --prefix needs no relocation.
  set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
  set(ENV{PKG_CONFIG_LIBDIR} ${prefix}/${LIBDIR}/pkgconfig)
  its_run("pkg-config --modversion" ${PKG_CONFIG} --modversion itscale)
  string(STRIP "${ITS_OUT}" v)
  if(NOT v STREQUAL VERSION)
    message(FATAL_ERROR "itscale.pc says version '${v}', the project is ${VERSION}")
  endif()
  its_run("pkg-config --cflags --libs" ${PKG_CONFIG} --cflags --libs itscale)
  separate_arguments(pc_flags UNIX_COMMAND "${ITS_OUT}")
  if(NOT ITS_OUT MATCHES "${prefix}")
    message(FATAL_ERROR "itscale.pc flags do not point into the prefix: ${ITS_OUT}")
  endif()
  separate_arguments(xf UNIX_COMMAND "${extra_flags}")
  its_run("cc with pkg-config flags" ${CC} -std=c11 ${xf} ${SOURCE}/examples/embed/main.c
    ${pc_flags} -Wl,-rpath,${prefix}/${LIBDIR} -o ${WORK}/embed_pc)
  its_run("run the pkg-config build" ${WORK}/embed_pc)
  message(STATUS "pkg-config: ${ITS_OUT}")

  # 3. Static consumer: libitscale.a is installed and `pkg-config --static --libs` names what it
  # needs. A copy of the prefix without the shared library makes the linker take the archive; the
  # program must then not need libitscale.so at run time.
  if(NOT EXISTS ${prefix}/${LIBDIR}/libitscale.a)
    message(FATAL_ERROR "not installed: ${LIBDIR}/libitscale.a")
  endif()
  set(sprefix ${WORK}/static-prefix)
  file(COPY ${prefix}/ DESTINATION ${sprefix})
  file(GLOB shared_libs ${sprefix}/${LIBDIR}/libitscale.so*)
  file(REMOVE ${shared_libs})
  set(ENV{PKG_CONFIG_PATH} ${sprefix}/${LIBDIR}/pkgconfig)
  set(ENV{PKG_CONFIG_LIBDIR} ${sprefix}/${LIBDIR}/pkgconfig)
  its_run("pkg-config --static --libs" ${PKG_CONFIG} --static --cflags --libs itscale)
  if(NOT ITS_OUT MATCHES "-lopenblas" OR NOT ITS_OUT MATCHES "-lcjson")
    message(FATAL_ERROR "pkg-config --static --libs itscale lacks the archive's dependencies: ${ITS_OUT}")
  endif()
  separate_arguments(static_flags UNIX_COMMAND "${ITS_OUT}")
  its_run("cc with pkg-config --static flags" ${CC} -std=c11 ${xf} ${SOURCE}/examples/embed/main.c
    ${static_flags} -o ${WORK}/embed_static)
  its_run("readelf of the static build" readelf -d ${WORK}/embed_static)
  if(ITS_OUT MATCHES "libitscale")
    message(FATAL_ERROR "the static build still needs the shared library:\n${ITS_OUT}")
  endif()
  its_run("run the static build" ${WORK}/embed_static)
  if(NOT ITS_OUT MATCHES "best_of_n")
    message(FATAL_ERROR "unexpected output of the static build: ${ITS_OUT}")
  endif()
  message(STATUS "static: ${ITS_OUT}")
  return()
endif()

find_program(ITS_PKG_CONFIG NAMES pkg-config pkgconf)
if(ITS_PKG_CONFIG)
  add_test(NAME install_embed COMMAND ${CMAKE_COMMAND}
    -DBUILD=${PROJECT_BINARY_DIR} -DSOURCE=${PROJECT_SOURCE_DIR}
    -DWORK=${CMAKE_CURRENT_BINARY_DIR}/install_check -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
    -DCC=${CMAKE_C_COMPILER} -DPKG_CONFIG=${ITS_PKG_CONFIG} -DVERSION=${PROJECT_VERSION}
    -DVERSION_MAJOR=${PROJECT_VERSION_MAJOR} -DSANITIZE=${ITS_SANITIZE}
    -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(install_embed PROPERTIES LABELS "install" TIMEOUT 600)
endif()
if(ITS_BUILD_EXAMPLES)
  # the same host program, built in the tree
  add_test(NAME embed_in_tree COMMAND its_embed)
  set_tests_properties(embed_in_tree PROPERTIES LABELS "unit")
endif()
