#pragma once
// Reads a whole input file (scenario, sweep or plan spec) into memory, so that parsers can
// work on text and name the file in their errors.
#include <string>

namespace kvsim {

// Returns the contents of `path`. Throws InputError "<path>: cannot open <what>" when the
// file cannot be opened.
std::string read_text_file(const std::string& path, const std::string& what);

}  // namespace kvsim
