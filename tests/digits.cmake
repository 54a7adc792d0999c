# test_digits needs the digits task's library (examples/digits). Without the examples, build
# that one folder here.
if(NOT ITS_BUILD_EXAMPLES)
  add_subdirectory(${PROJECT_SOURCE_DIR}/examples/digits ${PROJECT_BINARY_DIR}/digits-lib)
endif()
# its_digits needs only the public headers; the library itself comes with its_test_support.
target_link_libraries(test_digits PRIVATE its_digits)
target_compile_definitions(test_digits PRIVATE
  ITS_WEIGHTS_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/weights")
# The CLI's digits task, tested through its task interface.
target_sources(test_digits PRIVATE ${PROJECT_SOURCE_DIR}/examples/itscale/task_digits.c)
target_include_directories(test_digits PRIVATE ${PROJECT_SOURCE_DIR}/examples/itscale)
target_compile_definitions(test_digits PRIVATE ITS_HAVE_TASK_DIGITS=1)
# The task draws its pictures with the fashion library's PNG writer (libpng), as the CLI, which
# builds both tasks, does; fashion.cmake makes that library when the examples are not built.
target_link_libraries(test_digits PRIVATE its_fashion)
target_compile_definitions(test_digits PRIVATE ITS_HAVE_TASK_FASHION=1)
