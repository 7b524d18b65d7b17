#include "model/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/errors.h"

namespace hiexp::model {
namespace {

// The header is JSON of a known, shallow shape; this reader accepts general JSON values (objects, arrays, strings,
// numbers, literals) so that unusual but valid metadata does not fail, and reports the byte offset of any error.
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  double number = 0;
  std::string text;  // String, or the literal text of a Number (offsets beyond 2^53 stay exact)
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> fields;
};

class JsonReader {
 public:
  JsonReader(const std::string& s, const std::string& file) : s_(s), file_(file) {}
  Json parseDocument() {
    Json v = value();
    ws();
    if (i_ != s_.size()) fail("trailing characters after the JSON header");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throwRange("safetensors file '", file_, "': bad header JSON at byte ", i_, ": ", what);
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  char peek() {
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string str() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_++];
      if (c == '"') break;
      if (c == '\\') {
        if (i_ >= s_.size()) fail("unterminated escape");
        char e = s_[i_++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'u': {
            if (i_ + 4 > s_.size()) fail("short \\u escape");
            unsigned code = 0;
            for (int h = 0; h < 4; ++h) {
              const char x = s_[i_ + h];
              const int digit = x >= '0' && x <= '9' ? x - '0' : x >= 'a' && x <= 'f' ? x - 'a' + 10
                              : x >= 'A' && x <= 'F' ? x - 'A' + 10 : -1;
              if (digit < 0) fail("\\u escape needs four hex digits, got '" + s_.substr(i_, 4) + "'");
              code = code * 16 + static_cast<unsigned>(digit);
            }
            i_ += 4;
            // UTF-8 encode (surrogate pairs are kept as two 3-byte sequences: names here are ASCII in practice).
            if (code < 0x80) out += static_cast<char>(code);
            else if (code < 0x800) { out += static_cast<char>(0xC0 | (code >> 6)); out += static_cast<char>(0x80 | (code & 0x3F)); }
            else { out += static_cast<char>(0xE0 | (code >> 12)); out += static_cast<char>(0x80 | ((code >> 6) & 0x3F)); out += static_cast<char>(0x80 | (code & 0x3F)); }
            break;
          }
          default: out += e;
        }
      } else {
        out += c;
      }
    }
    return out;
  }
  // A header nests three levels (object, tensor entry, shape); the bound keeps a hostile file from overflowing the
  // stack of this recursive reader (a million nested '[' would) while leaving room for unusual metadata.
  static constexpr int kMaxDepth = 64;
  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  };
  Json value() {
    char c = peek();
    Json v;
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) fail("values nested more than " + std::to_string(kMaxDepth) + " levels deep");
    if (c == '{') {
      ++i_;
      v.kind = Json::Object;
      if (peek() == '}') { ++i_; return v; }
      while (true) {
        std::string key = str();
        expect(':');
        v.fields.emplace_back(std::move(key), value());
        char d = peek();
        ++i_;
        if (d == '}') break;
        if (d != ',') fail("expected ',' or '}'");
      }
    } else if (c == '[') {
      ++i_;
      v.kind = Json::Array;
      if (peek() == ']') { ++i_; return v; }
      while (true) {
        v.items.push_back(value());
        char d = peek();
        ++i_;
        if (d == ']') break;
        if (d != ',') fail("expected ',' or ']'");
      }
    } else if (c == '"') {
      v.kind = Json::String;
      v.text = str();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i_;
      while (i_ < s_.size() && std::strchr("+-0123456789.eE", s_[i_])) ++i_;
      v.kind = Json::Number;
      v.text = s_.substr(start, i_ - start);
      v.number = std::strtod(v.text.c_str(), nullptr);
    } else if (s_.compare(i_, 4, "true") == 0) { i_ += 4; v.kind = Json::Bool; v.number = 1; }
    else if (s_.compare(i_, 5, "false") == 0) { i_ += 5; v.kind = Json::Bool; }
    else if (s_.compare(i_, 4, "null") == 0) { i_ += 4; }
    else fail("unexpected character");
    return v;
  }
  const std::string& s_;
  const std::string& file_;
  size_t i_ = 0;
  int depth_ = 0;
};

// A non-negative integer field ("data_offsets[0]", "shape[1]") of a tensor entry, below 2^64.
uint64_t toOffset(const Json& v, const std::string& file, const std::string& name, const std::string& field) {
  HX_CHECK_RANGE(v.kind == Json::Number && !v.text.empty() && v.text.find_first_not_of("0123456789") == std::string::npos,
                 "safetensors file '", file, "': tensor '", name, "': ", field, " must be a non-negative integer, got ",
                 v.kind == Json::Number ? v.text : "a non-number");
  uint64_t x = 0;
  for (char c : v.text) {
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    HX_CHECK_RANGE(x <= (UINT64_MAX - digit) / 10, "safetensors file '", file, "': tensor '", name, "': ", field, " = ",
                   v.text, " does not fit in 64 bits");
    x = x * 10 + digit;
  }
  return x;
}

// Two tensors may not share bytes (the format requires disjoint ranges); empty tensors occupy nothing.
void checkNoOverlap(const std::map<std::string, std::pair<uint64_t, uint64_t>>& ranges, const std::string& path) {
  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> sorted;
  for (const auto& [name, range] : ranges)
    if (range.first < range.second) sorted.push_back({range, name});
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i) {
    const auto& [a, nameA] = sorted[i - 1];
    const auto& [b, nameB] = sorted[i];
    HX_CHECK_RANGE(b.first >= a.second, "safetensors file '", path, "': the data of tensors '", nameA, "' [", a.first,
                   ", ", a.second, ") and '", nameB, "' [", b.first, ", ", b.second, ") overlap");
  }
}

std::string jsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += c; }
    else if (static_cast<unsigned char>(c) < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
    else out += c;
  }
  return out;
}

}  // namespace

at::ScalarType dtypeFromSafetensors(const std::string& name, const std::string& where) {
  if (name == "F32") return at::kFloat;
  if (name == "F16") return at::kHalf;
  if (name == "BF16") return at::kBFloat16;
  if (name == "F64") return at::kDouble;
  if (name == "I64") return at::kLong;
  if (name == "I32") return at::kInt;
  if (name == "I16") return at::kShort;
  if (name == "I8") return at::kChar;
  if (name == "U8") return at::kByte;
  if (name == "BOOL") return at::kBool;
  throwRange(where, ": unknown or unsupported dtype '", name,
             "' (hiexp reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
}

std::string dtypeToSafetensors(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: throwRange("cannot write dtype ", c10::toString(type), " to safetensors");
  }
}

SafetensorsFile readSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open safetensors file '" + path + "'");
  const uint64_t fileSize = static_cast<uint64_t>(in.tellg());
  HX_CHECK_RANGE(fileSize >= 8, "safetensors file '", path, "' is truncated: ", fileSize,
                 " bytes, shorter than the 8-byte header length");
  in.seekg(0);
  unsigned char lenBytes[8];
  in.read(reinterpret_cast<char*>(lenBytes), 8);
  uint64_t headerLen = 0;
  for (int b = 7; b >= 0; --b) headerLen = (headerLen << 8) | lenBytes[b];
  HX_CHECK_RANGE(headerLen <= fileSize - 8, "safetensors file '", path, "' is truncated or not a safetensors file: ",
                 "its header claims ", headerLen, " bytes but only ", fileSize - 8, " follow");
  HX_CHECK_RANGE(headerLen <= (100u << 20), "safetensors file '", path, "': header of ", headerLen,
                 " bytes is larger than the 100 MiB limit");
  std::string header(headerLen, '\0');
  in.read(header.data(), static_cast<std::streamsize>(headerLen));
  const Json doc = JsonReader(header, path).parseDocument();
  HX_CHECK_RANGE(doc.kind == Json::Object, "safetensors file '", path, "': header is not a JSON object");
  const uint64_t dataStart = 8 + headerLen;
  const uint64_t dataSize = fileSize - dataStart;

  SafetensorsFile out;
  std::map<std::string, std::pair<uint64_t, uint64_t>> ranges;  // name -> data range, for duplicates and overlaps
  for (const auto& [name, entry] : doc.fields) {
    HX_CHECK_RANGE(!ranges.count(name), "safetensors file '", path, "': tensor '", name,
                   "' appears twice in the header (the format forbids duplicate names)");
    if (name == "__metadata__") {
      if (entry.kind == Json::Object)
        for (const auto& [k, v] : entry.fields) out.metadata[k] = v.kind == Json::String ? v.text : v.text;
      continue;
    }
    const std::string where = "safetensors file '" + path + "', tensor '" + name + "'";
    HX_CHECK_RANGE(entry.kind == Json::Object, where, ": entry is not an object");
    const Json* dtype = nullptr;
    const Json* shape = nullptr;
    const Json* offsets = nullptr;
    for (const auto& [k, v] : entry.fields) {
      if (k == "dtype") dtype = &v;
      else if (k == "shape") shape = &v;
      else if (k == "data_offsets") offsets = &v;
    }
    HX_CHECK_RANGE(dtype && dtype->kind == Json::String, where, ": missing string 'dtype'");
    HX_CHECK_RANGE(shape && shape->kind == Json::Array, where, ": missing array 'shape'");
    HX_CHECK_RANGE(offsets && offsets->kind == Json::Array && offsets->items.size() == 2, where,
                   ": 'data_offsets' must be [begin, end]");
    const at::ScalarType type = dtypeFromSafetensors(dtype->text, where);
    std::vector<int64_t> dims;
    uint64_t numel = 1;
    for (size_t k = 0; k < shape->items.size(); ++k) {
      uint64_t n = toOffset(shape->items[k], path, name, "shape[" + std::to_string(k) + "]");
      HX_CHECK_RANGE(n < (1ull << 40), where, ": dimension ", n, " is too large");
      dims.push_back(static_cast<int64_t>(n));
      numel *= n;
      HX_CHECK_RANGE(numel < (1ull << 42), where, ": too many elements");
    }
    const uint64_t begin = toOffset(offsets->items[0], path, name, "data_offsets[0]");
    const uint64_t end = toOffset(offsets->items[1], path, name, "data_offsets[1]");
    HX_CHECK_RANGE(begin <= end, where, ": data_offsets [", begin, ", ", end, "] are reversed");
    HX_CHECK_RANGE(end <= dataSize, where, ": data_offsets end ", end, " is past the end of the data (", dataSize,
                   " bytes): the file is truncated");
    const uint64_t bytes = numel * at::elementSize(type);
    HX_CHECK_RANGE(end - begin == bytes, where, ": holds ", end - begin, " bytes but shape x ", dtype->text, " needs ",
                   bytes);
    ranges[name] = {begin, end};
    at::Tensor t = at::empty(dims, at::TensorOptions().dtype(type));
    in.seekg(static_cast<std::streamoff>(dataStart + begin));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(bytes));
    HX_CHECK_RANGE(static_cast<uint64_t>(in.gcount()) == bytes, where, ": short read (file truncated?)");
    out.tensors.emplace_back(name, std::move(t));
  }
  checkNoOverlap(ranges, path);
  return out;
}

void checkFinite(const SafetensorsFile& file, const std::string& path) {
  for (const auto& [name, t] : file.tensors) {
    if (!at::isFloatingType(t.scalar_type()) || t.numel() == 0) continue;
    const at::Tensor bad = at::logical_not(at::isfinite(t)).flatten();
    const int64_t count = bad.sum().item<int64_t>();
    if (count == 0) continue;
    const int64_t first = bad.to(at::kByte).argmax().item<int64_t>();
    throwRange("safetensors file '", path, "', tensor '", name, "': holds ", count, " non-finite value(s) (NaN or ",
               "infinity), the first at flat index ", first, " (", t.flatten()[first].item<double>(),
               "); such weights make every log-prob NaN");
  }
}

void writeFileAtomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream outFile(tmp, std::ios::binary | std::ios::trunc);
    if (!outFile) throw std::runtime_error("cannot write '" + tmp + "'");
    outFile.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    outFile.flush();
    if (!outFile) throw std::runtime_error("write to '" + tmp + "' failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "'");
  }
}

void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::ostringstream h;
  h << '{';
  bool first = true;
  if (!metadata.empty()) {
    h << "\"__metadata__\":{";
    for (auto it = metadata.begin(); it != metadata.end(); ++it) {
      if (it != metadata.begin()) h << ',';
      h << '"' << jsonEscape(it->first) << "\":\"" << jsonEscape(it->second) << '"';
    }
    h << '}';
    first = false;
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const uint64_t bytes = t.numel() * t.element_size();
    if (!first) h << ',';
    first = false;
    h << '"' << jsonEscape(name) << "\":{\"dtype\":\"" << dtypeToSafetensors(t.scalar_type()) << "\",\"shape\":[";
    for (int64_t d = 0; d < t.dim(); ++d) h << (d ? "," : "") << t.size(d);
    h << "],\"data_offsets\":[" << offset << ',' << offset + bytes << "]}";
    offset += bytes;
  }
  h << '}';
  std::string header = h.str();
  while ((header.size() + 8) % 8 != 0) header += ' ';  // the format recommends 8-byte alignment of the data

  // Streamed tensor by tensor (a 7B checkpoint never sits in memory twice), into a temporary file renamed at the end.
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write '" + tmp + "'");
    char len[8];
    for (int b = 0; b < 8; ++b) len[b] = static_cast<char>((static_cast<uint64_t>(header.size()) >> (8 * b)) & 0xFF);
    out.write(len, 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& [name, t] : tensors) {
      at::Tensor c = t.detach().to(at::kCPU).contiguous();
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
    }
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      throw std::runtime_error("write to '" + tmp + "' failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "'");
  }
}

}  // namespace hiexp::model
