#include "pcap/pcap_file.h"

#include <pcap/pcap.h>

namespace ferry::pcap {

namespace {
// Frames larger than this are not Ethernet frames Ferry would carry (64 KiB TSO + headers).
constexpr uint32_t kMaxFrameLen = 256 * 1024;
}  // namespace

std::unique_ptr<PcapReader> PcapReader::open(const std::string& path, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  ::pcap* handle =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (handle == nullptr) {
    *error = path + ": " + errbuf;
    return nullptr;
  }
  const int link = pcap_datalink(handle);
  const bool raw_ip = link == DLT_RAW || link == DLT_IPV4 || link == DLT_IPV6;
  if (link != DLT_EN10MB && !raw_ip) {
    *error = path + ": link type " + std::to_string(link) + " (" +
             (pcap_datalink_val_to_name(link) ? pcap_datalink_val_to_name(link) : "unknown") +
             ") is neither Ethernet nor raw IP";
    pcap_close(handle);
    return nullptr;
  }
  return std::unique_ptr<PcapReader>(new PcapReader(handle, raw_ip));
}

PcapReader::~PcapReader() {
  pcap_close(handle_);
}

bool PcapReader::next(Frame* frame) {
  struct pcap_pkthdr* header = nullptr;
  const u_char* bytes = nullptr;
  int rc = pcap_next_ex(handle_, &header, &bytes);
  if (rc == PCAP_ERROR_BREAK) return false;  // clean end of file
  if (rc != 1) {
    error_ = pcap_geterr(handle_);
    return false;
  }
  if (header->caplen > kMaxFrameLen) {
    error_ = "record of " + std::to_string(header->caplen) + " bytes exceeds the frame limit";
    return false;
  }
  frame->timestamp_ns = static_cast<uint64_t>(header->ts.tv_sec) * 1'000'000'000ull +
                        static_cast<uint64_t>(header->ts.tv_usec);  // nano precision
  frame->original_len = header->len;
  frame->synthesized_ethernet = raw_ip_;
  if (!raw_ip_) {
    frame->data.assign(bytes, bytes + header->caplen);
    return true;
  }
  // Zero MACs, and the EtherType the IP version nibble names (IPv4 when there is none).
  const bool ipv6 = header->caplen > 0 && (bytes[0] >> 4) == 6;
  const uint8_t ethernet[14] = {0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                static_cast<uint8_t>(ipv6 ? 0x86 : 0x08),
                                static_cast<uint8_t>(ipv6 ? 0xdd : 0x00)};
  frame->data.assign(ethernet, ethernet + sizeof(ethernet));
  frame->data.insert(frame->data.end(), bytes, bytes + header->caplen);
  frame->original_len += sizeof(ethernet);
  return true;
}

bool PcapReader::read_all(const std::string& path, std::vector<Frame>* frames, std::string* error) {
  auto reader = open(path, error);
  if (!reader) return false;
  Frame frame;
  while (reader->next(&frame))
    frames->push_back(frame);
  if (!reader->error().empty()) {
    *error = path + ": " + reader->error();
    return false;
  }
  return true;
}

std::unique_ptr<PcapWriter> PcapWriter::create(const std::string& path, std::string* error) {
  ::pcap* handle =
      pcap_open_dead_with_tstamp_precision(DLT_EN10MB, kMaxFrameLen, PCAP_TSTAMP_PRECISION_NANO);
  if (handle == nullptr) {
    *error = "pcap_open_dead failed";
    return nullptr;
  }
  ::pcap_dumper* dumper = pcap_dump_open(handle, path.c_str());
  if (dumper == nullptr) {
    *error = path + ": " + pcap_geterr(handle);
    pcap_close(handle);
    return nullptr;
  }
  return std::unique_ptr<PcapWriter>(new PcapWriter(handle, dumper));
}

PcapWriter::~PcapWriter() {
  pcap_dump_close(dumper_);
  pcap_close(handle_);
}

void PcapWriter::write(std::span<const uint8_t> frame, uint64_t timestamp_ns) {
  struct pcap_pkthdr header = {};
  header.ts.tv_sec = static_cast<time_t>(timestamp_ns / 1'000'000'000ull);
  header.ts.tv_usec = static_cast<suseconds_t>(timestamp_ns % 1'000'000'000ull);
  header.caplen = header.len = static_cast<uint32_t>(frame.size());
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &header, frame.data());
  frames_written_++;
}

void PcapWriter::write(const Packet& packet, uint64_t timestamp_ns) {
  if (!packet.is_chained()) {
    write(std::span<const uint8_t>(packet.data(), packet.data_len()), timestamp_ns);
    return;
  }
  scratch_.clear();
  for (const Packet* seg = &packet; seg != nullptr; seg = seg->next()) {
    scratch_.insert(scratch_.end(), seg->data(), seg->data() + seg->data_len());
  }
  write(scratch_, timestamp_ns);
}

bool PcapWriter::flush() {
  return pcap_dump_flush(dumper_) == 0;
}

}  // namespace ferry::pcap
