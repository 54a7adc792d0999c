# Reliability suites: test_threads also carries the "threads" label, which the ThreadSanitizer
# build in scripts/test.sh runs.
if(TARGET test_threads)
  set_tests_properties(test_threads PROPERTIES LABELS "unit;threads")
endif()
