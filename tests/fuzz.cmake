# Fuzz targets (tests/fuzz): the corpus replay runs as unit tests in every build; with
# -DITS_FUZZ=ON and clang the libFuzzer binaries fuzz_<target> are built too.
add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/fuzz ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
