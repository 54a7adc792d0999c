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
  # run --nfe sizes the method to the budget as bench does (best_of_n: n = 500 / 20 = 25, all
  # 500 spent); --cap-only keeps the default n = 4 (80 spent); the JSON says which.
  add_test(NAME cli_run_nfe_scales COMMAND sh -c
    "mkdir -p ${TMP} && ${CLI} run --sampler best_of_n --nfe 500 --json > ${TMP}/scale.json && \
     grep -Eq '\"spent\":[[:space:]]*500,' ${TMP}/scale.json && \
     grep -Eq '\"mode\":[[:space:]]*\"scale\"' ${TMP}/scale.json && \
     ${CLI} run --sampler best_of_n --nfe 500 --cap-only --json > ${TMP}/cap.json && \
     grep -Eq '\"spent\":[[:space:]]*80,' ${TMP}/cap.json && \
     ${CLI} run --sampler best_of_n --nfe 500 | grep -q 'spent of a budget of 500'")
  # run --nfe with sampler auto: the policy (tuned here, inlined in the configuration) picks the
  # entry for the budget and sizes it itself, so --nfe is only the cap.
  add_test(NAME cli_run_auto_nfe COMMAND sh -c
    "rm -rf ${TMP}/auto && ${CLI} tune --task gmm --set task.dim=8 --set run.steps=5 \
       --samplers best_of_n,fk_smc --nfe 40,200 --seeds 2 --out ${TMP}/auto > /dev/null 2>&1 && \
     { printf '{\"sampler\":\"auto\",\"params\":{\"policy\":'; cat ${TMP}/auto/policy.json; \
       printf '}}'; } > ${TMP}/auto/auto.json && \
     ${CLI} run --task gmm --set task.dim=8 --nfe 150 --config ${TMP}/auto/auto.json --json \
       > ${TMP}/auto/run.json && \
     grep -Eq '\"mode\":[[:space:]]*\"policy\"' ${TMP}/auto/run.json && \
     grep -Eq '\"max_nfe\":[[:space:]]*150,' ${TMP}/auto/run.json && \
     ${CLI} run --task gmm --set task.dim=8 --nfe 150 --config ${TMP}/auto/auto.json | \
       grep -Eq '^  auto +policy entry [0-9]+ [(]tuned at [0-9]+ NFE' && \
     ${CLI} run --task gmm --set task.dim=8 --nfe 2000 --sampler auto | \
       grep -Eq '^  auto +online: [a-z_]+, the best of [0-9]+ pilot rounds'")
  # A clamp is announced (stderr and the point's "clamped"); each point of the figure stands at
  # the NFE spent: `none` spends 10 at both budgets, so its two points share one x per panel.
  add_test(NAME cli_bench_clamp_and_spent COMMAND sh -c
    "rm -rf ${TMP}/clamp ${TMP}/spent && \
     ${CLI} bench --samplers best_of_n --nfe 100000000 --seeds 1 --set run.steps=1 \
       --set task.dim=2 --out ${TMP}/clamp 2> ${TMP}/clamp.err > /dev/null && \
     grep -q 'warning: best_of_n at 1e+08 NFE: n = 65536, the top of its range: plans 65536 of the 100000000 NFE' ${TMP}/clamp.err && \
     grep -q '\"clamped\"' ${TMP}/clamp/curves.json && \
     ${CLI} bench --samplers none --nfe 40,80 --seeds 1 --set run.steps=10 --set task.dim=2 \
       --out ${TMP}/spent > /dev/null 2>&1 && \
     panels=$(grep -c '<title>none</title>' ${TMP}/spent/curves.svg) && \
     xs=$(sed -n '/<title>none<.title>/,/<.g>/p' ${TMP}/spent/curves.svg | \
          grep -o 'circle cx=\"[0-9.]*\"' | sort -u | wc -l) && \
     test $panels -ge 1 && test $xs -eq $panels")
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
    "bench_out_unwritable|bench --samplers none --nfe 100 --out /proc"
    "bench_sampler_twice|bench --samplers none,none --nfe 100 --out ${TMP}/x"
    "bench_empty_nfe|bench --samplers none --nfe 50,,100 --out ${TMP}/x"
    "samplers_other_set|samplers --set params.n=3"
    "config_is_folder|run --config ${TMP} --sampler none"
    "bad_command|frobnicate")
  foreach(c ${ITS_CLI_BAD})
    string(REPLACE "|" ";" parts "${c}")
    list(GET parts 0 name)
    list(GET parts 1 args)
    add_test(NAME cli_${name} COMMAND sh -c
      "mkdir -p ${TMP}; if ${CLI} ${args} > /dev/null 2> ${TMP}/${name}.err; then echo 'exit 0 for: ${args}'; exit 1; fi; \
       test $(wc -l < ${TMP}/${name}.err) -eq 1 || { cat ${TMP}/${name}.err; exit 1; }")
  endforeach()
  # Keys of the command line's own "task" object are checked for duplicates as the library checks
  # its own; a config without "sampler" names an unknown key first (a misspelt "sampler").
  add_test(NAME cli_config_task_keys COMMAND sh -c
    "mkdir -p ${TMP} && printf '%s' '{\"sampler\":\"none\",\"task\":{\"dim\":8,\"dim\":9}}' > ${TMP}/dup1.json && \
     printf '%s' '{\"sampler\":\"none\",\"task\":{\"dim\":8},\"task\":{\"dim\":9}}' > ${TMP}/dup2.json && \
     printf '%s' '{\"smpler\":\"none\"}' > ${TMP}/nos.json && \
     ! ${CLI} run --config ${TMP}/dup1.json 2> ${TMP}/dup1.err > /dev/null && \
     grep -q 'task.dim: duplicate key' ${TMP}/dup1.err && \
     ! ${CLI} run --config ${TMP}/dup2.json 2> ${TMP}/dup2.err > /dev/null && \
     grep -q 'task: duplicate key' ${TMP}/dup2.err && \
     ! ${CLI} run --config ${TMP}/nos.json 2> ${TMP}/nos.err > /dev/null && \
     grep -q 'smpler: unknown key' ${TMP}/nos.err && \
     printf '%s' '{\"sampler\":\"none\",\"task\":{\"dim\\u0000zz\":3}}' > ${TMP}/nul.json && \
     ! ${CLI} run --config ${TMP}/nul.json 2> ${TMP}/nul.err > /dev/null && \
     grep -q 'NUL (raw or .u0000) at byte 30' ${TMP}/nul.err && \
     ! ${CLI} run --config ${TMP} --sampler none 2> ${TMP}/dir.err > /dev/null && \
     grep -q 'is a directory' ${TMP}/dir.err")
  # tune --samplers narrows the held-out online mode too: with one method it runs that method,
  # so its held-out scores are the default candidate's (before, it took the default list).
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    add_test(NAME cli_tune_online_samplers COMMAND sh -c
      "rm -rf ${TMP}/tuneo && ${CLI} tune --task gmm --set task.dim=8 --set run.steps=5 \
         --samplers best_of_n --nfe 40,200 --seeds 2 --eval-seeds 2 --out ${TMP}/tuneo \
         > /dev/null 2>&1 && ${Python3_EXECUTABLE} -c \"import json, sys; \
d = json.load(open(sys.argv[1])); e = {s['name']: s for s in d['eval']}; \
on = [p['scores'] for p in e['auto_online']['points']]; \
c = [p['scores'] for p in d['eval'][0]['points']]; \
g = d['eval'][0]['config']; \
assert g['sampler'] == 'best_of_n' and 'params' not in g and 'dynamics' not in g.get('run', {}), g; \
assert on == c, (on, c)\" ${TMP}/tuneo/tuning.json")
    set_tests_properties(cli_tune_online_samplers PROPERTIES LABELS unit)
  endif()
  set_tests_properties(cli_config_task_keys cli_run_nfe_scales cli_run_auto_nfe cli_bench_clamp_and_spent cli_samplers cli_run_json cli_run_config_file cli_bench PROPERTIES LABELS unit)
endif()

# The README's parameter tables are the CLI's own output, so they cannot drift from the
# descriptor tables: the generated Markdown must stand in README.md verbatim.
if(ITS_BUILD_EXAMPLES)
  add_test(NAME cli_readme_tables COMMAND sh -c
    "mkdir -p ${TMP} && ${CLI} samplers --markdown > ${TMP}/samplers.md && \
     ${CMAKE_COMMAND} -DPART=${TMP}/samplers.md -DWHOLE=${PROJECT_SOURCE_DIR}/README.md \
       -P ${CMAKE_CURRENT_LIST_DIR}/scripts/contains.cmake")
endif()

# Tests of programs defined after this folder (tests come before examples/): registered when the
# whole tree has been read, so if(TARGET ...) sees every program that this build has.
function(its_cli_late_tests CLI TMP)
  # --help and -h: the usage on stdout, exit 0, for the tool, each command and every program.
  set(cmds "${CLI}" "${CLI} samplers" "${CLI} tasks" "${CLI} run" "${CLI} bench" "${CLI} tune")
  foreach(t itscale-digits-train itscale-digits-eval itscale-fashion-train its_embed itscale-server
            its-load its-cluster-load itscale-digits-forward bench_overhead bench_randn
            bench_rbf_order bench_scaling bench_search_c)
    if(TARGET ${t})
      list(APPEND cmds "$<TARGET_FILE:${t}>")
    endif()
  endforeach()
  set(sh "")
  foreach(c ${cmds})
    foreach(h --help -h)
      string(APPEND sh "out=$(${c} ${h} 2>/dev/null) || { echo '${c} ${h}: non-zero exit'; exit 1; }; \
        echo \"$out\" | grep -qi '^usage' || { echo '${c} ${h}: no usage on stdout'; exit 1; }; ")
    endforeach()
  endforeach()
  add_test(NAME cli_help COMMAND sh -c "${sh}")
  set_tests_properties(cli_help PROPERTIES LABELS unit)

  # A one-sample digits run: pooled metrics (diversity, Frechet) are "n/a" with the reason in the
  # summary, null with the reason under "metrics_na" in JSON. Tiny weights, trained in a second.
  if(TARGET itscale-digits-train)
    add_test(NAME cli_run_one_sample COMMAND sh -c
      "rm -rf ${TMP}/dw && mkdir -p ${TMP} && $<TARGET_FILE:itscale-digits-train> --out ${TMP}/dw --epochs 2 \
         --hidden 16 --layers 1 > /dev/null 2>&1 && \
       ${CLI} run --task digits --sampler none --set run.steps=5 --set task.weights=${TMP}/dw \
         > ${TMP}/one.txt && grep -Eq '^  diversity +n/a [(]a property of a set' ${TMP}/one.txt && \
       grep -Eq '^  frechet +n/a [(]a property of a set' ${TMP}/one.txt && \
       ! grep -q nan ${TMP}/one.txt && \
       ${CLI} run --task digits --sampler none --set run.steps=5 --set task.weights=${TMP}/dw \
         --json > ${TMP}/one.json && grep -Eq '\"diversity\":[[:space:]]*null' ${TMP}/one.json && \
       grep -q '\"metrics_na\"' ${TMP}/one.json")
    set_tests_properties(cli_run_one_sample PROPERTIES LABELS unit)
    # The digits task draws its samples as a PNG grid when the build has the PNG writer (the
    # fashion library): 4 samples of 8 x 8 drawn 7 x 7 with 2-pixel gutters, 4 * 58 + 2 wide.
    if(TARGET its_fashion)
      add_test(NAME cli_run_digits_png COMMAND sh -c
        "rm -rf ${TMP}/dp && mkdir -p ${TMP} && $<TARGET_FILE:itscale-digits-train> --out ${TMP}/dp \
           --epochs 2 --hidden 16 --layers 1 > /dev/null 2>&1 && \
         ${CLI} run --task digits --sampler best_of_n --set run.steps=5 --set run.top_k=4 \
           --set task.weights=${TMP}/dp --png ${TMP}/dp/grid.png > /dev/null && \
         test \"$(od -An -tx1 -N4 ${TMP}/dp/grid.png | tr -d ' \\n')\" = 89504e47 && \
         test \"$(od -An -tx1 -j16 -N8 ${TMP}/dp/grid.png | tr -d ' \\n')\" = 000000ea0000003c")
      set_tests_properties(cli_run_digits_png PROPERTIES LABELS unit)
    endif()
    # A y label longer than the plot is high (digits: "held-out accuracy (evaluator argmax =
    # target)") goes on two lines; no rotated label keeps more than 36 characters on one line.
    add_test(NAME cli_plot_long_labels COMMAND sh -c
      "rm -rf ${TMP}/dl ${TMP}/dlb && mkdir -p ${TMP} && $<TARGET_FILE:itscale-digits-train> --out ${TMP}/dl \
         --epochs 2 --hidden 16 --layers 1 > /dev/null 2>&1 && \
       ${CLI} bench --task digits --samplers none --nfe 20 --seeds 2 --set run.steps=5 \
         --set task.weights=${TMP}/dl --out ${TMP}/dlb > /dev/null 2>&1 && \
       grep -q '>held-out accuracy</text>' ${TMP}/dlb/curves.svg && \
       ! grep -Eq 'rotate[(]-90[)][^>]*>[^<]{37,}</text>' ${TMP}/dlb/curves.svg")
    set_tests_properties(cli_plot_long_labels PROPERTIES LABELS unit)
  endif()
endfunction()
if(ITS_BUILD_EXAMPLES)
  # the values of CLI and TMP now, the call once every folder has been read
  cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY [[${PROJECT_SOURCE_DIR}]] CALL its_cli_late_tests [[${CLI}]] [[${TMP}]])")
endif()
