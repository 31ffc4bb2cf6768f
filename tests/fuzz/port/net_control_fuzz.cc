// Fuzzes the virtio-net control queue commands: the first 8 bytes choose the negotiated
// features, the next byte the queue pairs, the rest is a sequence of commands, each
// preceded by its length byte.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "port/net_control.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  uint64_t features;
  std::memcpy(&features, data, 8);
  ferry::port::NetControl control(features, static_cast<uint16_t>(data[8]));
  size_t pos = 9;
  while (pos < size) {
    size_t len = data[pos++];
    if (len > size - pos) len = size - pos;
    uint8_t ack = control.execute(data + pos, len);
    if (ack > 1) __builtin_trap();
    pos += len;
  }
  const auto& s = control.state();
  if (s.filter.unicast.size() > ferry::port::NetControl::kMaxMacEntries ||
      s.filter.multicast.size() > ferry::port::NetControl::kMaxMacEntries ||
      s.rejected > s.commands) {
    __builtin_trap();
  }
  return 0;
}
