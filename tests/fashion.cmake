# test_fashion needs the fashion task's library (examples/fashion, on examples/digits). Without
# the examples, build those folders here.
if(NOT ITS_BUILD_EXAMPLES)
  if(NOT TARGET its_digits)
    add_subdirectory(${PROJECT_SOURCE_DIR}/examples/digits ${PROJECT_BINARY_DIR}/digits-lib)
  endif()
  add_subdirectory(${PROJECT_SOURCE_DIR}/examples/fashion ${PROJECT_BINARY_DIR}/fashion-lib)
endif()
target_link_libraries(test_fashion PRIVATE its_fashion)
target_compile_definitions(test_fashion PRIVATE
  ITS_IDX_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/idx")
# The CLI's fashion task, tested through its task interface.
target_sources(test_fashion PRIVATE ${PROJECT_SOURCE_DIR}/examples/itscale/task_fashion.c)
target_include_directories(test_fashion PRIVATE ${PROJECT_SOURCE_DIR}/examples/itscale)
target_compile_definitions(test_fashion PRIVATE ITS_HAVE_TASK_FASHION=1)
