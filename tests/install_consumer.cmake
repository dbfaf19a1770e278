# The install_consumer test, run with `cmake -P`: installs the warren build in
# WARREN_BINARY_DIR into WORK_DIR/prefix, then configures, builds and runs
# CONSUMER_SOURCE_DIR against that prefix only, with the compiler and flags
# warren was built with (a sanitizer build's library needs the sanitizer's
# runtime in the program); then builds and runs the same program again with
# the compiler alone and the flags `pkg-config --cflags --libs warren` reads
# from the installed warren.pc. Any failing step fails the test.
file(REMOVE_RECURSE "${WORK_DIR}")

function(run_step)
  message(STATUS "install_consumer: ${ARGV}")
  execute_process(COMMAND ${ARGV} COMMAND_ERROR_IS_FATAL ANY)
endfunction()

run_step("${CMAKE_COMMAND}" --install "${WARREN_BINARY_DIR}"
         --prefix "${WORK_DIR}/prefix" --config "${CONFIG}")
run_step("${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
         -G "${GENERATOR}"
         "-DCMAKE_BUILD_TYPE=${CONFIG}"
         "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
         "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
         "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
# A warren installed elsewhere (say /usr/local) must not stand in for this one.
file(STRINGS "${WORK_DIR}/build/CMakeCache.txt" found_config REGEX "^warren_DIR:")
string(FIND "${found_config}" "=${WORK_DIR}/prefix/" found_at)
if(found_at EQUAL -1)
  message(FATAL_ERROR "install_consumer: found the wrong warren: ${found_config}")
endif()
run_step("${CMAKE_COMMAND}" --build "${WORK_DIR}/build" --config "${CONFIG}")
run_step("${WORK_DIR}/build/find_package_consumer")

# The same program without CMake, as a project using pkg-config builds it.
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${WORK_DIR}/prefix/lib/pkgconfig"
          pkg-config --cflags --libs warren
  OUTPUT_VARIABLE pkg_config_flags OUTPUT_STRIP_TRAILING_WHITESPACE
  COMMAND_ERROR_IS_FATAL ANY)
string(FIND "${pkg_config_flags}" "-I${WORK_DIR}/prefix/" pkg_config_found_at)
if(pkg_config_found_at EQUAL -1)
  message(FATAL_ERROR "install_consumer: pkg-config found the wrong warren: ${pkg_config_flags}")
endif()
separate_arguments(pkg_config_flags UNIX_COMMAND "${pkg_config_flags}")
separate_arguments(build_flags UNIX_COMMAND "${CXX_FLAGS}")
run_step("${CXX_COMPILER}" ${build_flags} -std=c++20 "${CONSUMER_SOURCE_DIR}/main.cc"
         ${pkg_config_flags} -o "${WORK_DIR}/pkg_config_consumer")
run_step("${WORK_DIR}/pkg_config_consumer")
