// What the addon was built with and what it sees at run time; intra-op thread control.
#pragma once
#include <string>
#include <vector>

namespace hiexp {

struct RuntimeInfo {
  std::string version;
  std::string torchVersion;
  bool cudaCompiled = false;
  std::vector<std::string> devices;  // "cpu", then "cuda:0", "cuda:1", …
  int threads = 0;
};

RuntimeInfo runtimeInfo();
void setThreads(int n);
// True when the addon was built with CUDA kernels and a CUDA device is present.
bool cudaAvailable();

}  // namespace hiexp
