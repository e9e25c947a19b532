// The device-backend registry of backend.h: a small map from prefix ("cuda") to factory.
#include "rapide/inference/backend.h"

#include <map>
#include <mutex>
#include <string>

namespace rapide::inference {

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, DeviceBackendFactory, std::less<>> factories;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_device_backend(std::string_view prefix, DeviceBackendFactory factory) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.factories[std::string(prefix)] = factory;
}

const DeviceBackendFactory* find_device_backend(std::string_view prefix) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  const auto it = r.factories.find(prefix);
  // Entries are never erased, so the pointer stays valid after the lock is released.
  return it == r.factories.end() ? nullptr : &it->second;
}

}  // namespace rapide::inference
