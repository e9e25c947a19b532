# Warnings (as errors) for our own code only; dependencies and generated grammar
# sources do not link this target.
add_library(rapide_warnings INTERFACE)
add_library(rapide::warnings ALIAS rapide_warnings)
target_compile_options(rapide_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX,C>:-Wall -Wextra -Wpedantic -Werror -Wshadow=local -Wnon-virtual-dtor
                              -Wimplicit-fallthrough -Wno-missing-field-initializers
                              # GCC 12 reports false -Wrestrict positives inside libstdc++'s
                              # std::string at -O3 (GCC bug 105329).
                              $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>>
  $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Werror>)

# Sanitizers apply to our code and are carried to the link of every executable.
if(RAPIDE_SANITIZE)
  target_compile_options(rapide_warnings INTERFACE
    $<$<COMPILE_LANGUAGE:CXX,C>:-fsanitize=${RAPIDE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all>)
  target_link_options(rapide_warnings INTERFACE -fsanitize=${RAPIDE_SANITIZE})
endif()
