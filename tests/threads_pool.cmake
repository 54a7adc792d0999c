# The thread-pool suite also carries the "threads" label, which the ThreadSanitizer build runs.
if(TARGET test_threads_pool)
  set_tests_properties(test_threads_pool PROPERTIES LABELS "unit;threads")
endif()
