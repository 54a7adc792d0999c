# Header checks: every public header compiles on its own as strict C11 (self-contained, guarded),
# and the headers compile and link as C++ against the shared library.

file(GLOB_RECURSE ITS_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/*.h)
set(ITS_HEADER_CHECK_SRCS)
set(ITS_HEADER_MAIN "int main(void) { return 0; }\n")
foreach(h ${ITS_PUBLIC_HEADERS})
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/include ${h})
  string(MAKE_C_IDENTIFIER ${rel} id)
  set(src ${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.c)
  # Included first and twice: it must bring its own dependencies and an include guard.
  file(CONFIGURE OUTPUT ${src} CONTENT "#include <${rel}>\n#include <${rel}>\nint its_hdr_${id}(void);\nint its_hdr_${id}(void) { return 0; }\n")
  list(APPEND ITS_HEADER_CHECK_SRCS ${src})
endforeach()
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/header_check/main.c CONTENT "${ITS_HEADER_MAIN}")
add_executable(test_header_c ${ITS_HEADER_CHECK_SRCS} ${CMAKE_CURRENT_BINARY_DIR}/header_check/main.c)
set_target_properties(test_header_c PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(test_header_c PRIVATE -Wall -Wextra -Wpedantic -Werror -Wstrict-prototypes
  -Wmissing-prototypes)
target_include_directories(test_header_c PRIVATE ${PROJECT_SOURCE_DIR}/include)
add_test(NAME test_header_c COMMAND test_header_c)
set_tests_properties(test_header_c PROPERTIES LABELS "unit")

include(CheckLanguage)
check_language(CXX)
if(CMAKE_CXX_COMPILER)
  enable_language(CXX)
  add_executable(test_header_cxx ${CMAKE_CURRENT_LIST_DIR}/test_header_cxx.cpp)
  set_target_properties(test_header_cxx PROPERTIES CXX_STANDARD 11 CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF)
  target_compile_options(test_header_cxx PRIVATE -Wall -Wextra -Wpedantic -Werror)
  target_link_libraries(test_header_cxx PRIVATE itscale)
  add_test(NAME test_header_cxx COMMAND test_header_cxx)
  set_tests_properties(test_header_cxx PROPERTIES LABELS "unit")
else()
  message(STATUS "itscale: no C++ compiler, the C++ header check is skipped")
endif()
