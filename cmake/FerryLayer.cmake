# ferry_layer(NAME SOURCES ... DEPENDS ...)
#
# Declares one layer of Ferry as a static library `ferry_NAME` built from src/NAME/.
# A layer may include only its own headers and those of the layers it DEPENDS on;
# tests/unit/layering_test (scripts/check-layering) checks the #include lines against
# the same DEPENDS lists, so the dependency direction is enforced, not only documented.
function(ferry_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPENDS;LIBS" ${ARGN})
  add_library(ferry_${name} STATIC ${L_SOURCES})
  target_include_directories(ferry_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(ferry_${name} PRIVATE ferry_warnings)
  foreach(dep IN LISTS L_DEPENDS)
    target_link_libraries(ferry_${name} PUBLIC ferry_${dep})
  endforeach()
  if(L_LIBS)
    target_link_libraries(ferry_${name} PUBLIC ${L_LIBS})
  endif()
  # Dependencies joined with "," so that the global list keeps one entry per layer.
  string(REPLACE ";" "," deps_text "${L_DEPENDS}")
  set_property(GLOBAL APPEND PROPERTY FERRY_LAYERS "${name}:${deps_text}")
endfunction()
