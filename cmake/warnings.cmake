# The warning set of the style guide (checked with gcc 12 and clang 14). Presets
# turn warnings into errors with CMAKE_COMPILE_WARNING_AS_ERROR.
function(omvdev_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wold-style-definition -Wwrite-strings -Wformat=2 -Wundef -Wcast-qual -Wvla
    -Wimplicit-fallthrough -Wconversion
    $<$<C_COMPILER_ID:Clang>:-Wcomma>)
endfunction()
