#include "csum/ip_checksum.h"

#include "base/byteorder.h"

namespace ferry::csum {

uint32_t pseudo_sum_ipv6(const void* src, const void* dst, uint8_t next_header, uint32_t l4_len) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  const uint8_t* d = static_cast<const uint8_t*>(dst);
  uint64_t sum = uint64_t{__builtin_bswap32(l4_len)} + (uint32_t{next_header} << 24);
  for (int i = 0; i < 16; i += 4) {
    sum += load_unaligned<uint32_t>(s + i);
    sum += load_unaligned<uint32_t>(d + i);
  }
  return add(static_cast<uint32_t>(sum), static_cast<uint32_t>(sum >> 32));
}

uint16_t ipv4_header_checksum(const void* header, size_t len) {
  const uint8_t* h = static_cast<const uint8_t*>(header);
  // Everything but the checksum field (bytes 10 and 11).
  uint64_t s = uint64_t{load_unaligned<uint32_t>(h)} + load_unaligned<uint32_t>(h + 4) +
               load_unaligned<uint16_t>(h + 8) + load_unaligned<uint32_t>(h + 12) +
               load_unaligned<uint32_t>(h + 16);
  uint32_t sum = add(static_cast<uint32_t>(s), static_cast<uint32_t>(s >> 32));
  if (len > 20) sum = raw_sum(h + 20, len - 20, sum);
  return finish(sum);
}

void ipv4_header_fill(void* header, size_t len) {
  uint8_t* h = static_cast<uint8_t*>(header);
  store_unaligned<uint16_t>(h + 10, ipv4_header_checksum(h, len));
}

}  // namespace ferry::csum
