#include "pcap/pcap_file.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

namespace ferry::pcap {
namespace {

std::string capture(const char* name) {
  return std::string(FERRY_TEST_DATA) + "/captures/" + name;
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("ferry-") + std::to_string(getpid()) + "-" + name))
      .string();
}

TEST(PcapReader, ReadsARealCapture) {
  std::vector<Frame> frames;
  std::string error;
  ASSERT_TRUE(PcapReader::read_all(capture("one_tcp_stream.pcap"), &frames, &error)) << error;
  ASSERT_FALSE(frames.empty());
  for (const Frame& f : frames) {
    EXPECT_GE(f.data.size(), 14u);
    EXPECT_LE(f.data.size(), f.original_len);
  }
}

TEST(PcapReader, RawIpCapturesGetAnEthernetHeader) {
  std::vector<Frame> frames;
  std::string error;
  ASSERT_TRUE(PcapReader::read_all(capture("one_ipv6_http_stream.pcap"), &frames, &error)) << error;
  ASSERT_FALSE(frames.empty());
  for (const Frame& f : frames) {
    EXPECT_TRUE(f.synthesized_ethernet);
    ASSERT_GE(f.data.size(), 15u);
    EXPECT_EQ(f.data[12], 0x86);
    EXPECT_EQ(f.data[13], 0xdd);
    EXPECT_EQ(f.data[14] >> 4, 6);
  }
}

TEST(PcapReader, MissingFileGivesOneLineError) {
  std::string error;
  EXPECT_EQ(PcapReader::open("/nonexistent/x.pcap", &error), nullptr);
  EXPECT_NE(error.find("/nonexistent/x.pcap"), std::string::npos);
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(PcapReader, GarbageFileIsRejected) {
  std::string path = temp_path("garbage.pcap");
  std::ofstream(path) << "this is not a capture file at all";
  std::string error;
  EXPECT_EQ(PcapReader::open(path, &error), nullptr);
  EXPECT_FALSE(error.empty());
  std::filesystem::remove(path);
}

TEST(PcapReader, TruncatedRecordIsAnErrorNotACrash) {
  std::string path = temp_path("truncated.pcap");
  std::filesystem::copy_file(capture("one_tcp_stream.pcap"), path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 7);
  std::vector<Frame> frames;
  std::string error;
  EXPECT_FALSE(PcapReader::read_all(path, &frames, &error));
  EXPECT_FALSE(error.empty());
  std::filesystem::remove(path);
}

TEST(PcapWriter, RoundTripsFramesAndChainedPackets) {
  std::string path = temp_path("roundtrip.pcap");
  std::string error;
  alignas(64) uint8_t buf_a[256];
  alignas(64) uint8_t buf_b[256];
  Packet a;
  Packet b;
  a.init(buf_a, sizeof(buf_a), kDefaultHeadroom, kNoPool);
  b.init(buf_b, sizeof(buf_b), 0, kNoPool);
  std::memset(a.append(60), 0xaa, 60);
  std::memset(b.append(40), 0xbb, 40);
  a.append_segment(&b);
  {
    auto writer = PcapWriter::create(path, &error);
    ASSERT_NE(writer, nullptr) << error;
    const uint8_t plain[20] = {1, 2, 3};
    writer->write(plain, 1'500'000'123ull);
    writer->write(a, 2'000'000'000ull);
    EXPECT_EQ(writer->frames_written(), 2u);
  }
  std::vector<Frame> frames;
  ASSERT_TRUE(PcapReader::read_all(path, &frames, &error)) << error;
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].data.size(), 20u);
  EXPECT_EQ(frames[0].timestamp_ns, 1'500'000'123ull);
  ASSERT_EQ(frames[1].data.size(), 100u);
  EXPECT_EQ(frames[1].data[59], 0xaa);
  EXPECT_EQ(frames[1].data[60], 0xbb);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ferry::pcap
