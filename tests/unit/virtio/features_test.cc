#include "virtio/features.h"

#include <gtest/gtest.h>

namespace ferry::virtio {
namespace {

TEST(Features, Names) {
  EXPECT_STREQ(feature_name(VIRTIO_NET_F_CSUM), "CSUM");
  EXPECT_STREQ(feature_name(VIRTIO_F_RING_PACKED), "RING_PACKED");
  EXPECT_EQ(feature_name(50), nullptr);
  EXPECT_EQ(features_to_string(0), "none");
  EXPECT_EQ(
      features_to_string(feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_MRG_RXBUF) |
                         feature_bit(VIRTIO_F_VERSION_1) | feature_bit(50)),
      "CSUM|MRG_RXBUF|VERSION_1|bit50");
}

TEST(Features, Dependencies) {
  auto check = [](uint64_t f) { return check_feature_dependencies(f); };
  uint64_t ok = feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_HOST_TSO4) |
                feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_TSO6) |
                feature_bit(VIRTIO_NET_F_GUEST_ECN) | feature_bit(VIRTIO_NET_F_CTRL_VQ) |
                feature_bit(VIRTIO_NET_F_MQ) | feature_bit(VIRTIO_NET_F_CTRL_RX) |
                feature_bit(VIRTIO_NET_F_RSC_EXT) | feature_bit(VIRTIO_F_VERSION_1);
  EXPECT_TRUE(check(ok).ok());
  EXPECT_TRUE(check(0).ok());
  struct Case {
    unsigned feature;
    unsigned missing;
  } cases[] = {
      {VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_CSUM},
      {VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_CSUM},
      {VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_CSUM},
      {VIRTIO_NET_F_HOST_USO, VIRTIO_NET_F_CSUM},
      {VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VQ},
      {VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_VQ},
      {VIRTIO_NET_F_RSS, VIRTIO_NET_F_CTRL_VQ},
  };
  for (const Case& c : cases) {
    FeatureDependencyError e = check((ok | feature_bit(c.feature)) & ~feature_bit(c.missing));
    EXPECT_FALSE(e.ok()) << feature_name(c.feature);
    EXPECT_EQ(e.needs_any & feature_bit(c.missing), feature_bit(c.missing));
  }
  FeatureDependencyError e = check(feature_bit(VIRTIO_NET_F_RSC_EXT));
  EXPECT_EQ(e.feature, unsigned{VIRTIO_NET_F_RSC_EXT});
  EXPECT_EQ(to_string(e), "RSC_EXT requires GUEST_TSO4/GUEST_TSO6");
  EXPECT_EQ(to_string(check(feature_bit(VIRTIO_NET_F_GUEST_ECN))),
            "GUEST_ECN requires GUEST_TSO4/GUEST_TSO6");
  EXPECT_EQ(to_string(check(feature_bit(VIRTIO_NET_F_HOST_TSO4))), "HOST_TSO4 requires CSUM");
}

}  // namespace
}  // namespace ferry::virtio
