# Layers point down (docs/DESIGN.md §2): the #include graph of src/, include/ and examples/ and
# the calls between the static library's objects, against the layer table of the design document.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME layers COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/check_layers.py
           --root ${PROJECT_SOURCE_DIR} --lib $<TARGET_FILE:itscale_static>)
else()
  add_test(NAME layers COMMAND sh -c "echo 'layers: python3 not found (scripts/deps.sh installs it)' >&2; false")
endif()
set_tests_properties(layers PROPERTIES LABELS unit)

# Every "DESIGN.md §N" in the code names a section the design document has.
if(Python3_Interpreter_FOUND)
  add_test(NAME design_refs COMMAND ${Python3_EXECUTABLE}
           ${PROJECT_SOURCE_DIR}/scripts/check_design_refs.py --root ${PROJECT_SOURCE_DIR})
  set_tests_properties(design_refs PROPERTIES LABELS unit)
endif()
