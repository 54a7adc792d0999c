# End-to-end test of the serving example: server_test starts itscale-server on 127.0.0.1 with a
# free port and talks HTTP to it. Needs the examples and libmicrohttpd.
pkg_check_modules(ITS_MHD QUIET libmicrohttpd)
if(ITS_BUILD_EXAMPLES AND ITS_MHD_FOUND)
  add_executable(server_test ${CMAKE_CURRENT_LIST_DIR}/server_test.c)
  target_compile_options(server_test PRIVATE -Wall -Wextra)
  target_link_libraries(server_test PRIVATE its_test_support cjson Threads::Threads)
  add_dependencies(server_test itscale-server)
  # promtool (Debian's prometheus package) checks the metric names; skipped when missing
  find_program(ITS_PROMTOOL promtool)
  if(NOT ITS_PROMTOOL)
    set(ITS_PROMTOOL "")
  endif()
  add_test(NAME server_test COMMAND server_test $<TARGET_FILE:itscale-server> ${ITS_PROMTOOL})
  set_tests_properties(server_test PROPERTIES LABELS "unit" TIMEOUT 300)
endif()
