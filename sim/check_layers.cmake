# kvsim's layers, lowest first, and the check that every #include points down (issue #17).
#
#   cmake -DKVSIM_ROOT=<source dir> [-DKVSIM_STAMP=<file>] -P sim/check_layers.cmake
#
# A file may include headers of its own folder and of folders on a lower layer; folders on
# one layer are independent of each other. Anything else fails with the file, the line and
# both layers. The build runs this (target kvsim_layer_check, a dependency of every kvsim
# library), and docs/architecture.md's layer table is checked against KVSIM_LAYERS by
# tests/docs/architecture_doc_test.cpp.
#
# Each entry: "<layer number>:<folder>". A file belongs to the longest folder that prefixes its
# path. calibration-gpu folders build the standalone CUDA tools (CUDA, cuBLAS, NCCL and the
# standard library only, so they run on a GPU machine without Boost or yaml-cpp): they include
# each other and nothing else of kvsim, and nothing else includes them.
set(KVSIM_LAYERS
  "0:sim/core"          # time, errors, strict config reading, RNG, files, worker pool
  "0:sim/version.h"     # generated at configure time (provenance)
  "1:sim/engine"        # the discrete-event kernel
  "1:models/spec"       # catalog values: model and GPU specs
  "1:traces"            # workloads: arrivals, length distributions, trace files
  "2:models/compression"
  "3:models/cost"
  "4:models/parallel"
  "5:calibration/fit"
  "6:calibration/transfer"
  "7:sim/serving"       # the serving model: replica, KV manager, router, Simulation
  "8:sim/serving/schedulers"
  "8:sim/metrics"       # MetricsSink implementations
  "9:sim/config"        # scenario files -> a resolved Scenario
  "10:sim/pipeline"     # load -> resolve -> run -> summarize
  "11:experiments"      # sweeps, plans, validation
  "12:sim/cli"          # the kvsim executable
  "gpu:calibration/harness"
  "gpu:calibration/kernels"
  "gpu:calibration/nccl"
  "gpu:calibration/kvsim_calibrate.cu")

# The sources the check reads, relative to the root (the build's DEPENDS list globs the same).
set(KVSIM_LAYERED_PATTERNS sim/*.h sim/*.cpp models/*.h models/*.cpp traces/*.h traces/*.cpp experiments/*.h
    experiments/*.cpp calibration/*.h calibration/*.cpp calibration/*.cu calibration/*.cuh)

if(NOT CMAKE_SCRIPT_MODE_FILE)
  return()  # included by the top-level CMakeLists.txt for KVSIM_LAYERED_PATTERNS
endif()
if(NOT KVSIM_ROOT)
  message(FATAL_ERROR "check_layers.cmake: pass -DKVSIM_ROOT=<source dir>")
endif()

# The layer entry a root-relative path belongs to (longest folder prefix); "" when none.
function(kvsim_layer_of path out_layer out_folder)
  set(best_len 0)
  set(best_layer "")
  set(best_folder "")
  foreach(entry IN LISTS KVSIM_LAYERS)
    string(FIND "${entry}" ":" colon)
    string(SUBSTRING "${entry}" 0 ${colon} layer)
    math(EXPR start "${colon} + 1")
    string(SUBSTRING "${entry}" ${start} -1 folder)
    string(LENGTH "${folder}" len)
    if(path STREQUAL folder OR path MATCHES "^${folder}/")
      if(len GREATER best_len)
        set(best_len ${len})
        set(best_layer "${layer}")
        set(best_folder "${folder}")
      endif()
    endif()
  endforeach()
  set(${out_layer} "${best_layer}" PARENT_SCOPE)
  set(${out_folder} "${best_folder}" PARENT_SCOPE)
endfunction()

set(problems "")
set(files_checked 0)
list(TRANSFORM KVSIM_LAYERED_PATTERNS PREPEND "${KVSIM_ROOT}/" OUTPUT_VARIABLE globs)
file(GLOB_RECURSE sources RELATIVE "${KVSIM_ROOT}" ${globs})
foreach(src IN LISTS sources)
  kvsim_layer_of("${src}" from_layer from_folder)
  if(from_layer STREQUAL "")
    list(APPEND problems "${src}: belongs to no layer of sim/check_layers.cmake (add its folder to KVSIM_LAYERS)")
    continue()
  endif()
  math(EXPR files_checked "${files_checked} + 1")
  get_filename_component(src_dir "${src}" DIRECTORY)
  file(STRINGS "${KVSIM_ROOT}/${src}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  file(READ "${KVSIM_ROOT}/${src}" content)
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" inc "${line}")
    # Quoted includes resolve next to the file first (the CUDA sources), then from the root.
    if(EXISTS "${KVSIM_ROOT}/${src_dir}/${inc}")
      cmake_path(SET target NORMALIZE "${src_dir}/${inc}")
    else()
      set(target "${inc}")
    endif()
    kvsim_layer_of("${target}" to_layer to_folder)
    if(to_layer STREQUAL "")
      continue()  # not a kvsim header (a library's quoted include)
    endif()
    set(ok FALSE)
    set(rule "includes must point to a lower layer")
    if(from_layer STREQUAL "gpu" OR to_layer STREQUAL "gpu")
      set(rule "the standalone CUDA tools (layer gpu) and the kvsim libraries never include each other")
    endif()
    if(from_folder STREQUAL to_folder)
      set(ok TRUE)
    elseif(from_layer STREQUAL "gpu" OR to_layer STREQUAL "gpu")
      if(from_layer STREQUAL to_layer)
        set(ok TRUE)
      endif()
    elseif(to_layer LESS from_layer)
      set(ok TRUE)
    endif()
    if(NOT ok)
      string(FIND "${content}" "${line}" pos)
      string(SUBSTRING "${content}" 0 ${pos} before)
      string(REGEX MATCHALL "\n" newlines "${before}")
      list(LENGTH newlines lineno)
      math(EXPR lineno "${lineno} + 1")
      list(APPEND problems
        "${src}:${lineno}: includes ${inc} (layer ${to_layer}, ${to_folder}) from layer ${from_layer} (${from_folder}): ${rule}")
    endif()
  endforeach()
endforeach()

if(problems)
  list(LENGTH problems n)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "kvsim layer check: ${n} problem(s) (sim/check_layers.cmake; docs/architecture.md):\n  ${text}\n")
endif()
if(KVSIM_STAMP)
  file(WRITE "${KVSIM_STAMP}" "${files_checked} files checked\n")
endif()
message(STATUS "kvsim layer check: ${files_checked} files, every include points down")
