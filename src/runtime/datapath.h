#pragma once

// Datapath: the ports, the poll-mode workers that move packets between them, and the
// forwarding configuration they share.
//
// Every port is owned by one worker: that worker receives from all of the port's queues,
// transmits on them, and runs the port's control events (a vhost-user port's socket
// messages arrive on the worker's EventLoop, so each worker has its own). A worker runs
// to completion, burst by burst (up to 64 packets):
//
//   rx_burst -> parse -> coalescing (ports with GRO or RSC, coalesce.h) -> Switcher::decide
//   (one call per burst)
//   -> per destination: clone for floods, egress edits -> output offload fix-up for that
//   port (keep TSO/partial checksum where the port takes it; else software GSO or checksum
//   fill: offload negotiation per hop) -> pick the output queue (RSS hash, else flow hash)
//   -> the worker's tx buffer of that queue
//   -> at the end of the burst, one tx_burst per non-empty output queue (one kick)
//
// A tx buffer is flushed early when it is 3/4 full (so the peer sees work before a ring
// fills) or when its byte queue limit (Dql) is reached. Packets for a port owned by
// another worker go through a single-producer single-consumer ring to that worker, which
// copies them into its own pool (pools are per worker) and returns the originals to be
// freed by their owner.
//
// RSC holds TCP segments between bursts: its timers are polled every turn (and bound how
// long an idle worker sleeps); what they release goes down the same pipeline. Packets with
// RSC info keep it only toward ports that take it (port::kCapTxRscInfo); elsewhere they
// become plain TSO frames (offload::rsc_strip_info) before the offload fix-up.
//
// Between bursts a worker picks up a new ForwardingConfig snapshot if one was published
// (one relaxed atomic load when nothing changed), checks its ports' receive filters (see
// below), runs ageing, and decides how to wait
// (PollPolicy: spin, yield when the host is overcommitted, sleep on the port fds and the
// control loop when idle). A Watchdog thread reports workers and queues that stop making
// progress while work is pending.
//
// Receive filters (a vhost-user guest's rx mode, MAC table and VLAN filter): the worker
// that owns a port runs its control queue, but every worker's bridge decides whether a
// frame may go to that port. So the filter travels the way the rest of the forwarding
// configuration does: once per turn the owner compares each owned port's
// rx_filter_generation() with the last one it saw; on a change it reads the filter and
// calls Datapath::set_rx_filter(), which rebuilds the bridge snapshot with it and
// publishes it; every worker (the owner first, in the same turn) picks it up between
// bursts. Workers never take a lock on the fast path and a snapshot never changes under
// them. Per-port RCU pointers read per frame would avoid the copy, but changes are rare
// (a guest sets its filter at interface up and on multicast joins), while the bridge's
// flood sets (which ports take every frame of a kind) must change with the filter anyway,
// and those live in the snapshot. Frames decided by another worker in the turn or two
// before it sees the new snapshot still follow the old filter.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "offload/gro.h"
#include "offload/gso.h"
#include "offload/rsc.h"
#include "packet/buffer_pool.h"
#include "port/port.h"
#include "runtime/bridge_switcher.h"
#include "runtime/coalesce.h"
#include "runtime/dql.h"
#include "runtime/forwarding.h"
#include "runtime/poll_policy.h"
#include "runtime/runtime_stats.h"
#include "runtime/snapshot.h"
#include "runtime/spsc_ring.h"
#include "runtime/watchdog.h"
#include "steer/rss.h"
#include "switch/bridge.h"
#include "vhost/event_loop.h"

namespace ferry::runtime {

inline constexpr uint16_t kBurst = 64;
// A tx buffer is flushed once it holds this many packets (3/4 of a burst).
inline constexpr uint16_t kTxFlushThreshold = kBurst * 3 / 4;
inline constexpr uint16_t kMaxTxQueues = 8;
// The byte queue limit of an output queue never goes below this.
inline constexpr uint32_t kDqlMinLimit = 64 * 1024;

struct PortOptions {
  int worker = -1;  // owning worker; -1: the least loaded
  // Coalescing of what this port receives (e.g. a TAP without offloads): GRO per burst, or
  // RSC with timers (rsc: its settings).
  Coalesce coalesce = Coalesce::kOff;
  offload::RscConfig rsc;
  std::vector<int> wait_fds;  // readable when the port has packets (a sleeping worker wakes)
};

struct DatapathConfig {
  uint16_t workers = 1;
  std::vector<int> cpus;  // cpu of worker i (cpus[i]; missing or -1: not pinned)
  PollPolicyConfig poll;
  uint32_t pool_buffers = 32768;  // per worker
  uint32_t data_room = 2048;
  uint64_t stuck_ns = 2'000'000'000;  // watchdog: no progress while pending for this long
  uint32_t watchdog_period_ms = 500;
  std::function<void(const std::string&)> log;          // watchdog and worker messages
  std::function<std::unique_ptr<Switcher>()> switcher;  // default: the L2 bridge (switch/)
};

class Datapath;

class Worker {
 public:
  Worker(Datapath& dp, uint16_t index, int cpu);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  uint16_t index() const { return index_; }
  BufferPool& pool() { return *pool_; }
  // The loop for the control events of this worker's ports (vhost-user sockets).
  vhost::EventLoop& loop() { return loop_; }

  // One turn of the poll loop: every owned rx queue once, the handoff rings, the tx
  // flushes. Returns the packets received. Tests call it directly instead of start().
  uint32_t run_once();
  void start();
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }
  void join();
  bool running() const { return running_.load(std::memory_order_relaxed); }

  const WorkerCounters& counters() const { return counters_; }
  // Pipeline counters of port id (this worker's share).
  const PortCounters& port_counters(uint16_t port) const { return ports_[port].counters; }
  const ForwardingStats& forwarding_stats() const { return switcher_->stats(); }
  uint32_t fdb_size() const { return switcher_->fdb_size(); }
  const offload::GroStats& gro_stats() const { return gro_.stats(); }
  const offload::GsoStats& gso_stats() const { return gso_.stats(); }
  // The RSC engine of port id (nullptr unless this worker owns it with coalesce = rsc).
  const offload::Rsc* rsc(uint16_t port) const {
    return port < ports_.size() ? ports_[port].rsc.get() : nullptr;
  }
  // Earliest RSC timer of this worker's ports (offload::Rsc::kNoDeadline: nothing held).
  uint64_t rsc_deadline_ns() const;
  // Packets waiting in the handoff rings into this worker.
  uint32_t handoff_pending() const;
  uint64_t handoff_consumed() const;

 private:
  friend class Datapath;
  struct TxQueue {
    Packet* pkts[kBurst];
    uint16_t n = 0;
    uint32_t bytes = 0;
    Dql dql;
  };
  struct PortState {
    bool owned = false;
    uint32_t caps = 0;
    uint16_t nq = 1;
    std::vector<TxQueue> txq;               // owned ports only
    std::unique_ptr<const steer::Rss> rss;  // output queue selection (multiqueue ports)
    uint16_t rss_nq = 0;
    uint64_t rx_filter_generation = 0;  // the port's, when last handed to the bridge
    std::unique_ptr<offload::Rsc> rsc;  // owned ports with coalesce = rsc
    PortCounters counters;
  };
  struct Handoff {
    Packet* pkt;
    uint16_t port;
  };
  struct Peer {  // rings between this worker (producer) and worker `index`
    std::unique_ptr<SpscRing<Handoff>> out;       // this -> peer
    std::unique_ptr<SpscRing<Packet*>> returned;  // peer -> this: originals to free
    Handoff staged[kBurst];
    uint16_t n_staged = 0;
  };

  void prepare();          // after ports were added, before the first run_once
  void release_packets();  // stops and frees what the worker still buffers
  void loop_main();
  void process(uint16_t in_port, Packet** pkts, uint16_t n);
  void coalesce_rsc(uint16_t in_port, PortState& in, Packet** pkts, uint16_t n);
  void poll_rsc();
  void forward_all(uint16_t in_port, Packet** pkts, uint32_t n);
  void forward(uint16_t in_port, Packet** pkts, uint16_t n);
  void route(uint16_t out_port, Packet* pkt, uint16_t index);
  void output(uint16_t out_port, Packet* pkt);
  void enqueue(uint16_t out_port, PortState& ps, Packet* pkt);
  void flush(uint16_t port, uint16_t q, TxQueue& t, bool early);
  void build_rss(PortState& ps);
  void flush_all();
  void push_handoffs();
  uint32_t drain_handoffs();
  void wait(uint32_t sleep_us);
  void sync_rx_filters();

  Datapath& dp_;
  uint16_t index_;
  int cpu_;
  std::unique_ptr<BufferPool> pool_;
  vhost::EventLoop loop_;
  std::unique_ptr<Switcher> switcher_;
  SnapshotReader<ForwardingConfig> config_;
  offload::GroTable gro_;
  offload::GsoEngine gso_;
  PollPolicy policy_;
  OvercommitDetector overcommit_;
  std::vector<std::pair<uint16_t, uint16_t>> rx_;  // (port, queue)
  std::vector<PortState> ports_;
  std::vector<Peer> peers_;      // by worker index
  std::vector<uint16_t> dirty_;  // (port << 4 | queue) tx buffers holding packets
  PortMask masks_[kBurst];
  uint64_t now_ns_ = 0;
  WorkerCounters counters_;
  std::atomic<uint64_t> heartbeat_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::thread thread_;
  uint32_t turn_ = 0;
  int epoll_fd_ = -1;  // the ports' wait fds, for sleeping
};

class Datapath {
 public:
  explicit Datapath(DatapathConfig config);
  ~Datapath();

  uint16_t worker_count() const { return static_cast<uint16_t>(workers_.size()); }
  Worker& worker(uint16_t i) { return *workers_[i]; }
  const Worker& worker(uint16_t i) const { return *workers_[i]; }
  // Which worker a new port would go to with options.worker == -1.
  uint16_t next_worker() const;

  // Adds a port (before start()); returns its id (its index). Build ports that need a
  // pool or an event loop with those of worker(next_worker()) or of options.worker.
  uint16_t add_port(std::unique_ptr<port::Port> p, PortOptions options = {});
  uint16_t port_count() const { return static_cast<uint16_t>(ports_.size()); }
  port::Port& port(uint16_t id) { return *ports_[id].port; }
  const port::Port& port(uint16_t id) const { return *ports_[id].port; }
  uint16_t owner(uint16_t id) const { return ports_[id].owner; }
  const PortOptions& port_options(uint16_t id) const { return ports_[id].options; }
  int find_port(const std::string& name) const;

  // A forwarding configuration with default settings for every port added so far.
  ForwardingConfig default_forwarding() const;
  // Publishes a new snapshot; workers pick it up between bursts. The ports' receive
  // filters (set_rx_filter) are merged into its bridge snapshot.
  void publish(ForwardingConfig config);
  // Installs port id's receive filter in the bridge and publishes the new snapshot. The
  // worker that owns the port calls it when the port reports a change (any thread may).
  void set_rx_filter(uint16_t id, const port::ReceiveFilter& filter);
  // Whether port id takes every frame in the current snapshot (no filter, or promiscuous).
  bool rx_promisc(uint16_t id) const;
  // Frames for port id its receive filter refused, summed over the workers.
  uint64_t rx_filtered(uint16_t id) const;
  std::shared_ptr<const ForwardingConfig> forwarding() const { return cell_.load(); }

  // Starts the workers (threads) and the watchdog; stop() stops and joins them.
  void start();
  void stop();
  // Without threads (tests, benchmarks): prepares the workers for run_once().
  void prepare();

  // Counters summed over the workers.
  PortCounters port_counters(uint16_t id) const;
  ForwardingStats forwarding_stats() const;
  sw::Bridge& bridge() { return *bridge_; }
  const sw::Bridge& bridge() const { return *bridge_; }
  Watchdog& watchdog() { return watchdog_; }
  const DatapathConfig& config() const { return config_; }
  uint64_t uptime_ns() const;

 private:
  friend class Worker;
  struct PortEntry {
    std::unique_ptr<port::Port> port;
    PortOptions options;
    uint16_t owner = 0;
  };
  void log(const std::string& line) const;

  // Publishes config with the receive filters merged in; publish_mutex_ held.
  void publish_locked(ForwardingConfig config);

  DatapathConfig config_;
  SnapshotCell<ForwardingConfig> cell_;
  // Serialises publishers (the control plane's publish(), workers' set_rx_filter()).
  std::mutex publish_mutex_;
  RxFilters rx_filters_;  // by port id (publish_mutex_)
  // A bridge snapshot the control plane supplied in ForwardingConfig::bridge, without
  // filters (publish_mutex_); null when the bridge's snapshot is derived.
  std::shared_ptr<const sw::BridgeConfig> given_bridge_;
  std::unique_ptr<sw::Bridge> bridge_;  // shared by the workers (FDB, neighbour table)
  std::vector<PortEntry> ports_;
  std::vector<std::unique_ptr<Worker>> workers_;
  Watchdog watchdog_;
  bool prepared_ = false;
  bool started_ = false;
  uint64_t start_ns_ = 0;
};

uint64_t monotonic_ns();

}  // namespace ferry::runtime
