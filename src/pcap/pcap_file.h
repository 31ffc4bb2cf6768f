#pragma once

// Reading and writing pcap files with libpcap.
//
// Ferry carries Ethernet frames, so the reader hands out Ethernet frames: captures of the
// Ethernet link type as they are, and captures of raw IP packets (LINKTYPE_RAW, IPV4, IPV6)
// behind a synthesized Ethernet header (zero MACs, EtherType from the IP version), so that
// every IP capture can feed the parser and the offloads. Other link types are refused.
//
// Used by tests, ferry-offload and the pcap port. Files are untrusted: a file that is not
// pcap, has another link type, or a truncated record yields a clear error() and no frame,
// never a crash. Frames come back as bytes; the caller decides how to put them in Packets.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "packet/packet.h"

struct pcap;
struct pcap_dumper;

namespace ferry::pcap {

struct Frame {
  uint64_t timestamp_ns = 0;
  uint32_t original_len = 0;  // length on the wire; data.size() is what was captured
  std::vector<uint8_t> data;
  bool synthesized_ethernet = false;  // the file held raw IP; the 14-byte Ethernet header is ours
};

class PcapReader {
 public:
  // Opens `path`; on failure returns nullptr and sets *error to one line saying why.
  static std::unique_ptr<PcapReader> open(const std::string& path, std::string* error);
  ~PcapReader();
  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;

  // Reads the next frame into *frame. Returns false at the end of the file or on a
  // damaged record; error() tells which (empty at a clean end).
  bool next(Frame* frame);
  const std::string& error() const { return error_; }

  // Reads every frame of a file; false (and *error) if it cannot be opened or is damaged.
  static bool read_all(const std::string& path, std::vector<Frame>* frames, std::string* error);

 private:
  PcapReader(::pcap* handle, bool raw_ip) : handle_(handle), raw_ip_(raw_ip) {}
  ::pcap* handle_;
  bool raw_ip_;
  std::string error_;
};

class PcapWriter {
 public:
  // Creates (or truncates) `path` with the Ethernet link type and nanosecond timestamps.
  static std::unique_ptr<PcapWriter> create(const std::string& path, std::string* error);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  void write(std::span<const uint8_t> frame, uint64_t timestamp_ns);
  // Writes a (possibly chained) packet as one frame.
  void write(const Packet& packet, uint64_t timestamp_ns);
  // Flushes buffered records to the file; false if the write failed.
  bool flush();
  uint64_t frames_written() const { return frames_written_; }

 private:
  PcapWriter(::pcap* handle, ::pcap_dumper* dumper) : handle_(handle), dumper_(dumper) {}
  ::pcap* handle_;
  ::pcap_dumper* dumper_;
  uint64_t frames_written_ = 0;
  std::vector<uint8_t> scratch_;
};

}  // namespace ferry::pcap
