# Shared build helpers: warnings, sanitizers, and the one way to declare a test.

# Designated initializers that omit members (C++20 style) are intended: no
# -Wmissing-field-initializers.
set(MP_WARNINGS -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wno-unused-parameter
                -Wno-missing-field-initializers)
if(MP_WERROR)
  list(APPEND MP_WARNINGS -Werror)
endif()

if(MP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# mp_target_defaults(<target>): warnings and the project root on the include path
# (Highway's foreach_target.h needs HWY_TARGET_INCLUDE relative to it).
function(mp_target_defaults target)
  target_compile_options(${target} PRIVATE ${MP_WARNINGS})
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
  else()
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  endif()
endfunction()

# mp_library(<name> SOURCES ... DEPS ...): one module = one static library.
function(mp_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  mp_target_defaults(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# mp_test(<name> SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary whose cases are
# registered with ctest one by one (discovered when ctest runs, not at build time).
function(mp_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  mp_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "${labels}"
                       ENVIRONMENT "MP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
