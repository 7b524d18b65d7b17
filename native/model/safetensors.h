// safetensors I/O (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {"k": "v"}}, then the bytes.
// Reading checks everything a damaged file can get wrong (header past the end, offsets out of range or overlapping
// the header, sizes that disagree with shape x dtype, unknown dtypes) and names the file and tensor in the message.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hiexp::model {

struct SafetensorsFile {
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // in file order, CPU, the file's dtype
  std::map<std::string, std::string> metadata;
};

// Reads a whole file. Throws hiexp::RangeError (damaged file, unknown dtype) or std::runtime_error (cannot open).
SafetensorsFile readSafetensors(const std::string& path);

// Throws hiexp::RangeError naming the file, the tensor and the first bad index when a floating-point tensor holds NaN
// or infinity (weights that load silently and then make every log-prob NaN).
void checkFinite(const SafetensorsFile& file, const std::string& path);

// Writes tensors (moved to CPU, contiguous) atomically: a temporary file beside `path`, flushed, then renamed.
void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata);

// "F32" <-> at::kFloat, ...; throws hiexp::RangeError naming the dtype for one hiexp does not read.
at::ScalarType dtypeFromSafetensors(const std::string& name, const std::string& where);
std::string dtypeToSafetensors(at::ScalarType type);

// Writes bytes to `path` through a temporary file and a rename, so that a reader never sees half a file.
void writeFileAtomic(const std::string& path, const std::string& bytes);

}  // namespace hiexp::model
