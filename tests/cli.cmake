# The itscale CLI under ctest: listing, run --json checked by a cJSON reader, bench outputs
# (JSON, CSV, SVG well-formed per xmllint), and one-line errors with a non-zero exit.
if(ITS_BUILD_EXAMPLES)
  add_executable(cli_check_json ${CMAKE_CURRENT_LIST_DIR}/cli_check_json.c)
  target_link_libraries(cli_check_json PRIVATE cjson)
  find_program(ITS_XMLLINT xmllint)
  set(CLI $<TARGET_FILE:itscale_cli>)
  set(CHK $<TARGET_FILE:cli_check_json>)
  set(TMP ${CMAKE_CURRENT_BINARY_DIR}/cli_out)

  add_test(NAME cli_samplers COMMAND sh -c
    "${CLI} samplers | grep -q '^best_of_n' && ${CLI} samplers --markdown | grep -q '^| run key'")
  add_test(NAME cli_run_json COMMAND sh -c
    "mkdir -p ${TMP} && ${CLI} run --task gmm --sampler best_of_n --nfe 200 --seed 3 \
     --set run.steps=10 --set task.dim=16 --json --out ${TMP}/run.json && \
     ${CHK} run ${TMP}/run.json hit_rate target_logprob && \
     ${CLI} run --task gmm --sampler best_of_n --nfe 200 --json | ${CHK} run /dev/stdin hit_rate")
  add_test(NAME cli_run_config_file COMMAND sh -c
    "mkdir -p ${TMP} && printf '%s' '{\"sampler\":\"best_of_n\",\"params\":{\"n\":3},\"run\":{\"steps\":5},\"task\":{\"dim\":8}}' > ${TMP}/cfg.json && \
     ${CLI} run --config ${TMP}/cfg.json --json --out ${TMP}/cfg_run.json && \
     ${CHK} run ${TMP}/cfg_run.json hit_rate && grep -q '\"n\":[[:space:]]*3' ${TMP}/cfg_run.json")
  if(ITS_XMLLINT)
    set(XML "${ITS_XMLLINT} --noout ${TMP}/bench/curves.svg")
  else()
    set(XML "echo 'cli_bench: xmllint not found (install libxml2-utils)' >&2; false")
  endif()
  add_test(NAME cli_bench COMMAND sh -c
    "rm -rf ${TMP}/bench && ${CLI} bench --task gmm --samplers none,best_of_n --nfe 40,80 \
     --seeds 2 --set run.steps=10 --set task.dim=8 --out ${TMP}/bench && \
     test -s ${TMP}/bench/curves.csv && test $(wc -l < ${TMP}/bench/curves.csv) -eq 5 && \
     ${CHK} curves ${TMP}/bench/curves.json && grep -q '<svg' ${TMP}/bench/curves.svg && ${XML}")
  # Every bad input: non-zero exit and exactly one line on stderr.
  set(ITS_CLI_BAD
    "bad_flag|run --bogus"
    "bad_task|run --task nope --sampler none"
    "bad_sampler|run --sampler nope"
    "bad_param|run --sampler best_of_n --set params.n=0"
    "bad_set|run --sampler none --set novalue"
    "bad_nfe|run --sampler none --nfe -4"
    "bad_task_set|run --sampler none --set task.dimm=3"
    "bad_task_range|run --sampler none --set task.dim=0"
    "missing_config|run --config /nonexistent/cfg.json"
    "bad_bench_nfe|bench --samplers none --nfe 100,50 --out ${TMP}/x"
    "bad_bench_sampler|bench --samplers none,nope --nfe 100 --out ${TMP}/x"
    "bad_command|frobnicate")
  foreach(c ${ITS_CLI_BAD})
    string(REPLACE "|" ";" parts "${c}")
    list(GET parts 0 name)
    list(GET parts 1 args)
    add_test(NAME cli_${name} COMMAND sh -c
      "mkdir -p ${TMP}; if ${CLI} ${args} > /dev/null 2> ${TMP}/${name}.err; then echo 'exit 0 for: ${args}'; exit 1; fi; \
       test $(wc -l < ${TMP}/${name}.err) -eq 1 || { cat ${TMP}/${name}.err; exit 1; }")
  endforeach()
  # --help and -h: the usage on stdout, exit 0, for the tool, each command and every program.
  set(ITS_HELP_CMDS "${CLI}" "${CLI} samplers" "${CLI} tasks" "${CLI} run" "${CLI} bench")
  foreach(t itscale-digits-train itscale-digits-eval its_embed itscale-server)
    if(TARGET ${t})
      list(APPEND ITS_HELP_CMDS "$<TARGET_FILE:${t}>")
    endif()
  endforeach()
  set(HELP_SH "")
  foreach(c ${ITS_HELP_CMDS})
    foreach(h --help -h)
      string(APPEND HELP_SH "out=$(${c} ${h} 2>/dev/null) || { echo '${c} ${h}: non-zero exit'; exit 1; }; \
        echo \"$out\" | grep -qi '^usage' || { echo '${c} ${h}: no usage on stdout'; exit 1; }; ")
    endforeach()
  endforeach()
  add_test(NAME cli_help COMMAND sh -c "${HELP_SH}")
  set_tests_properties(cli_help cli_samplers cli_run_json cli_run_config_file cli_bench PROPERTIES LABELS unit)
endif()

# The README's parameter tables are the CLI's own output, so they cannot drift from the
# descriptor tables: the generated Markdown must stand in README.md verbatim.
if(ITS_BUILD_EXAMPLES)
  add_test(NAME cli_readme_tables COMMAND sh -c
    "mkdir -p ${TMP} && ${CLI} samplers --markdown > ${TMP}/samplers.md && \
     ${CMAKE_COMMAND} -DPART=${TMP}/samplers.md -DWHOLE=${PROJECT_SOURCE_DIR}/README.md \
       -P ${CMAKE_CURRENT_LIST_DIR}/scripts/contains.cmake")
endif()
