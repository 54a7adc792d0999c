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

# The cluster (examples/server/cluster): the Prometheus rules pass `promtool check rules`, and a
# 3-replica smoke test behind HAProxy (a replica killed under load: 0 lost, answers bit-identical;
# key-cache hit ratio under consistent hashing above round robin's). Exit 77 (skipped) when
# haproxy or prometheus is not installed (scripts/deps.sh installs both).
if(ITS_BUILD_EXAMPLES AND ITS_MHD_FOUND)
  if(ITS_PROMTOOL)
    add_test(NAME cluster_rules COMMAND ${ITS_PROMTOOL} check rules
      ${PROJECT_SOURCE_DIR}/examples/server/cluster/itscale.rules.yml)
    set_tests_properties(cluster_rules PROPERTIES LABELS "unit" TIMEOUT 60)
  endif()
  add_test(NAME cluster_smoke COMMAND ${CMAKE_CURRENT_LIST_DIR}/scripts/cluster_smoke.sh
    $<TARGET_FILE:itscale-server> $<TARGET_FILE:its-cluster-load>)
  set_tests_properties(cluster_smoke PROPERTIES LABELS "unit;cluster" TIMEOUT 300
    SKIP_RETURN_CODE 77)
endif()
