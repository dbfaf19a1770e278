# examples/testing/check_readme_example.cmake: the ctest check that
# README.md's "Testing with warren" example is readme_example_test.cc, the
# test ctest builds and runs, to the byte (after the file's opening comment).
# Run as: cmake -D README=<README.md> -D EXAMPLE=<readme_example_test.cc> -P
# check_readme_example.cmake. Reads both files; writes nothing.
cmake_minimum_required(VERSION 3.25)

set(fix "change README.md's example and ${EXAMPLE} together")
file(READ "${README}" readme)
file(READ "${EXAMPLE}" example)

# The README's example: the first ```cpp block of the section.
string(FIND "${readme}" "\n## Testing with warren\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README} has no section '## Testing with warren'")
endif()
string(SUBSTRING "${readme}" ${at} -1 section)
set(fence_open "\n```cpp\n")
string(FIND "${section}" "${fence_open}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README}'s 'Testing with warren' has no ```cpp block")
endif()
string(LENGTH "${fence_open}" fence_length)
math(EXPR at "${at} + ${fence_length}")
string(SUBSTRING "${section}" ${at} -1 section)
string(FIND "${section}" "\n```\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README}'s 'Testing with warren' example never closes its ```")
endif()
math(EXPR at "${at} + 1")
string(SUBSTRING "${section}" 0 ${at} in_readme)

# The file's code: what follows its opening comment and the blank line
# after it.
string(REGEX REPLACE "^(//[^\n]*\n)+\n" "" in_file "${example}")

if("${in_readme}" STREQUAL "${in_file}")
  return()
endif()
# Name the first line that differs.
set(line 1)
while(TRUE)
  foreach(side IN ITEMS in_readme in_file)
    string(FIND "${${side}}" "\n" end)
    if(end EQUAL -1)
      set(${side}_line "${${side}}")
      set(${side} "")
    else()
      string(SUBSTRING "${${side}}" 0 ${end} ${side}_line)
      math(EXPR end "${end} + 1")
      string(SUBSTRING "${${side}}" ${end} -1 ${side})
    endif()
  endforeach()
  if(NOT "${in_readme_line}" STREQUAL "${in_file_line}")
    message(FATAL_ERROR
            "README.md's 'Testing with warren' example and ${EXAMPLE} differ at line ${line} "
            "of the example:\n  README.md: ${in_readme_line}\n  the file:  ${in_file_line}\n${fix}")
  endif()
  if("${in_readme}" STREQUAL "" AND "${in_file}" STREQUAL "")
    message(FATAL_ERROR "README.md's example and ${EXAMPLE} differ in their line ends; ${fix}")
  endif()
  math(EXPR line "${line} + 1")
endwhile()
