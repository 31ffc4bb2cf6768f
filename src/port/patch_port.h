#pragma once

// PatchPort: one end of an in-process cable. What is sent on queue q of one end is
// received on queue q of the other, with its offload state untouched (both ends take
// every offload). Each direction of each queue is a single-producer single-consumer
// ring, so the two ends may run on different worker threads. A full ring drops (and
// counts) rather than blocks.

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "port/port.h"

namespace ferry::port {

class PatchPort final : public Port {
 public:
  // Two connected ends with `queues` queues and rings of `ring_size` packets (power of two).
  static std::pair<std::unique_ptr<PatchPort>, std::unique_ptr<PatchPort>> create_pair(
      const std::string& name_a, const std::string& name_b, uint16_t queues = 1,
      uint32_t ring_size = 1024);
  ~PatchPort() override;

  uint16_t num_queues() const override { return static_cast<uint16_t>(stats_.size()); }
  uint16_t max_queues() const override { return num_queues(); }
  bool link_up() const override { return true; }
  uint32_t capabilities() const override;
  uint16_t rx_burst(uint16_t queue, Packet** pkts, uint16_t max) override;
  uint16_t tx_burst(uint16_t queue, Packet** pkts, uint16_t n) override;
  const QueueStats& queue_stats(uint16_t queue) const override { return stats_[queue]; }

 private:
  struct Ring {
    explicit Ring(uint32_t size) : slots(size), mask(size - 1) {}
    std::vector<Packet*> slots;
    uint32_t mask;
    alignas(64) std::atomic<uint32_t> head{0};  // producer position
    alignas(64) std::atomic<uint32_t> tail{0};  // consumer position
  };
  struct Cable {
    std::vector<std::unique_ptr<Ring>> a_to_b, b_to_a;
  };

  PatchPort(std::string name, std::shared_ptr<Cable> cable, bool is_a, uint16_t queues);

  std::shared_ptr<Cable> cable_;
  std::vector<std::unique_ptr<Ring>>* in_;
  std::vector<std::unique_ptr<Ring>>* out_;
  std::vector<QueueStats> stats_;
};

}  // namespace ferry::port
