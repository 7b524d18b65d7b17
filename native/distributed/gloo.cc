// The Gloo backend (CPU tensors). Compiled in when gloo's headers exist (Debian: libgloo-dev, which libtorch's
// ProcessGroupGloo.hpp includes); without them, makeGloo explains how to get them.
#include "distributed/group.h"

#include <cstdlib>
#include <sstream>

#include "common/errors.h"

#if __has_include(<gloo/algorithm.h>)
#define HIEXP_HAS_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

namespace hiexp::dist {

#ifdef HIEXP_HAS_GLOO

namespace {
bool isLoopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}
}  // namespace

bool hasGloo() { return true; }

c10::intrusive_ptr<BackendBase> makeGloo(const c10::intrusive_ptr<c10d::Store>& store, const GroupOptions& opts) {
  auto o = c10d::ProcessGroupGloo::Options::create(opts.timeout);
  // As torch.distributed: GLOO_SOCKET_IFNAME names the interfaces (comma-separated); otherwise the address this
  // host's name resolves to, or loopback when the whole group is on this machine.
  const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifnames != nullptr && *ifnames != '\0') {
    std::stringstream list(ifnames);
    std::string name;
    while (std::getline(list, name, ','))
      if (!name.empty()) o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else if (isLoopback(opts.masterAddr)) {
    o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  o->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, opts.rank, opts.worldSize, o);
}

#else

bool hasGloo() { return false; }

c10::intrusive_ptr<BackendBase> makeGloo(const c10::intrusive_ptr<c10d::Store>&, const GroupOptions&) {
  throwRange("backend 'gloo' is not in this build: gloo's headers were missing when it was compiled (Debian: "
             "apt-get install libgloo-dev, then npm run build:native)");
}

#endif

}  // namespace hiexp::dist
