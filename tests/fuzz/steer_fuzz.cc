// Fuzzes the steering layer with hostile input: the first byte picks what the rest is.
//  - 0: the data of a VIRTIO_NET_CTRL_MQ_RSS_CONFIG / HASH_CONFIG command. An accepted
//       config must satisfy the limits, and builds an Rss.
//  - 1: a frame, parsed as a 2-segment chain and steered under every hash type set with
//       and without inner headers: queues in range, burst equal to one-by-one, the hash
//       equal to the reference Toeplitz of the bytes hash_input() chose.
//  - 2: raw bytes hashed by every Toeplitz variant, which must agree.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "packet/packet.h"
#include "proto/parser.h"
#include "steer/flow_key.h"
#include "steer/rss.h"
#include "steer/toeplitz.h"

namespace {

using namespace ferry::steer;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)                                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      __builtin_printf("check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                      \
    }                                                                    \
  } while (0)

void fuzz_config(const uint8_t* data, size_t size) {
  RssLimits limits;
  limits.num_queues = 4;
  RssConfig c;
  if (parse_virtio_rss_config({data, size}, limits, &c) == RssConfigError::kOk) {
    FUZZ_CHECK(validate(c, limits) == RssConfigError::kOk);
    for (uint16_t q : c.indirection_table)
      FUZZ_CHECK(q < limits.num_queues);
    FUZZ_CHECK(Rss::create(c, limits) != nullptr);
  }
  if (parse_virtio_hash_config({data, size}, limits, &c) == RssConfigError::kOk) {
    FUZZ_CHECK(Rss::create(c, limits) != nullptr);
  }
}

void fuzz_frame(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const size_t split = data[0] % (size + 1);
  data++;
  size--;
  const size_t head_len = split < size ? split : size;
  std::vector<uint8_t> b1(head_len + 64), b2(size - head_len + 64);
  ferry::Packet head, tail;
  head.init(b1.data(), static_cast<uint32_t>(b1.size()), 0, ferry::kNoPool);
  tail.init(b2.data(), static_cast<uint32_t>(b2.size()), 0, ferry::kNoPool);
  if (head_len > 0) std::memcpy(head.append(static_cast<uint32_t>(head_len)), data, head_len);
  if (size > head_len) {
    std::memcpy(tail.append(static_cast<uint32_t>(size - head_len)), data + head_len,
                size - head_len);
  }
  head.append_segment(&tail);
  ferry::proto::parse_packet(head);
  FlowKey fk;
  flow_key_from_packet(head, &fk);

  // Built once: a key's tables cost more than a frame.
  static const std::vector<std::unique_ptr<const Rss>> configs = [] {
    std::vector<std::unique_ptr<const Rss>> v;
    const uint32_t type_sets[] = {kAllHashTypes, kAllHashTypes & 0x3f, 0x7, 0x38, 0x1c0, 0x5, 0};
    for (uint32_t types : type_sets) {
      for (bool inner : {false, true}) {
        RssConfig c;
        c.hash_types = types;
        c.key.assign(kMicrosoftKey.begin(), kMicrosoftKey.end());
        for (uint16_t i = 0; i < 8; i++)
          c.indirection_table.push_back(i % 3);
        c.unclassified_queue = 2;
        c.inner_headers = inner;
        RssLimits limits;
        limits.num_queues = 3;
        v.push_back(Rss::create(c, limits));
        FUZZ_CHECK(v.back() != nullptr);
      }
    }
    return v;
  }();
  for (const auto& rss : configs) {
    RssInput in;
    rss->hash_input(head, &in);
    FUZZ_CHECK(in.len <= kMaxRssInputLen);
    RssResult r = rss->classify(head);
    FUZZ_CHECK(r.queue < 3);
    if (r.report != HashReport::kNone) {
      FUZZ_CHECK(r.hash == toeplitz_reference(kMicrosoftKey, {in.bytes, in.len}));
    } else {
      FUZZ_CHECK(r.queue == 2);
    }
    ferry::Packet* burst[1] = {&head};
    uint16_t q = 0xffff;
    HashReport rep;
    rss->steer_burst(burst, &q, &rep);
    FUZZ_CHECK(q == r.queue && rep == r.report);
  }
}

void fuzz_hash(const uint8_t* data, size_t size) {
  static ToeplitzKey key(kMicrosoftKey);
  const size_t len = size < kMaxInputLen ? size : kMaxInputLen;
  const uint32_t want = key.hash_reference(data, len);
  FUZZ_CHECK(key.hash_table(data, len) == want);
  if (toeplitz_supported(ToeplitzVariant::kGfni)) FUZZ_CHECK(key.hash_gfni(data, len) == want);
  uint32_t a, b;
  key.hash_pair(data, len, data + (size - len), len, &a, &b);
  FUZZ_CHECK(a == want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  switch (data[0] % 3) {
    case 0:
      fuzz_config(data + 1, size - 1);
      break;
    case 1:
      fuzz_frame(data + 1, size - 1);
      break;
    default:
      fuzz_hash(data + 1, size - 1);
      break;
  }
  return 0;
}
