#include "runtime/datapath.h"

#include <algorithm>
#include <cstdio>

#include <sys/epoll.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "csum/offload_state.h"
#include "proto/parser.h"
#include "runtime/bridge_switcher.h"
#include "runtime/packet_clone.h"

namespace ferry::runtime {

uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

// Whether a port with capabilities caps takes pkt's GSO type whole.
bool port_takes_gso(uint32_t caps, const Packet& p) {
  uint16_t t = p.gso_type();
  if ((t & (kGsoUdpTunnel | kGsoUdpTunnelCsum | kGsoGre | kGsoGreCsum | kGsoPartial |
            kGsoTunnelRemcsum)) != 0) {
    return false;  // no port advertises tunnel segmentation
  }
  if ((t & kGsoTcpEcn) != 0 && (caps & port::kCapTxEcn) == 0) return false;
  if ((caps & port::kCapTxCsum) == 0) return false;  // segmentation offload implies csum
  if ((t & kGsoTcpv4) != 0) return (caps & port::kCapTxTso4) != 0;
  if ((t & kGsoTcpv6) != 0) return (caps & port::kCapTxTso6) != 0;
  if ((t & kGsoUdpL4) != 0) return (caps & port::kCapTxUso) != 0;
  if ((t & kGsoUdp) != 0) return (caps & port::kCapTxUfo) != 0;
  return false;
}

// Whether a frame may go into RSC: its checksums are verified first (a coalesced packet's
// checksums are recomputed or declared not valid, so a corrupt segment must not be merged
// into good ones). Partial checksums (local senders) and frames the peer already verified
// need no look; what is not TCP is bypassed by RSC anyway.
bool rsc_checksums_ok(Packet& p) {
  if (p.packet_type().l4() != L4Type::kTcp || p.packet_type().tunnel() != TunnelType::kNone)
    return true;
  if (p.csum_state() == CsumState::kPartial || p.csum_state() == CsumState::kUnnecessary)
    return true;
  return csum::mark_unnecessary(p) == csum::CsumError::kOk;
}

BufferPool::Config pool_config(uint16_t index, const DatapathConfig& c) {
  BufferPool::Config pc;
  pc.name = "worker" + std::to_string(index);
  pc.buffer_count = c.pool_buffers;
  pc.data_room = c.data_room;
  return pc;
}

}  // namespace

// --- Worker -------------------------------------------------------------------------------

Worker::Worker(Datapath& dp, uint16_t index, int cpu)
    : dp_(dp),
      index_(index),
      cpu_(cpu),
      pool_(BufferPool::create(pool_config(index, dp.config_))),
      switcher_(dp.config_.switcher ? dp.config_.switcher()
                                    : std::make_unique<BridgeSwitcher>(*dp.bridge_, index == 0)),
      config_(dp.cell_),
      gso_(*pool_),
      policy_(dp.config_.poll),
      epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {}

Worker::~Worker() {
  release_packets();
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void Worker::release_packets() {
  join();
  for (PortState& ps : ports_) {
    if (ps.rsc) ps.rsc->purge();
    for (TxQueue& t : ps.txq) {
      free_packets(t.pkts, t.n);
      t.n = 0;
    }
  }
  for (Peer& p : peers_) {
    for (uint16_t i = 0; i < p.n_staged; i++)
      free_packet(p.staged[i].pkt);
    p.n_staged = 0;
    // Packets of this worker's pool still in the rings (all workers are stopped).
    if (p.out) {
      Handoff h[kBurst];
      uint32_t k;
      while ((k = p.out->pop(h, kBurst)) != 0) {
        for (uint32_t i = 0; i < k; i++)
          free_packet(h[i].pkt);
      }
      Packet* back[kBurst];
      while ((k = p.returned->pop(back, kBurst)) != 0)
        free_packets(back, k);
    }
  }
}

void Worker::prepare() {
  const uint16_t nports = dp_.port_count();
  ports_.clear();
  ports_.resize(nports);
  rx_.clear();
  for (uint16_t id = 0; id < nports; id++) {
    PortState& ps = ports_[id];
    if (dp_.owner(id) != index_) continue;
    ps.owned = true;
    port::Port& p = dp_.port(id);
    ps.txq.resize(std::min<uint16_t>(std::max<uint16_t>(p.max_queues(), 1), kMaxTxQueues));
    for (TxQueue& t : ps.txq) {
      // Never below one 64 KiB TSO frame: a smaller limit would only split bursts.
      t.dql.set_min_limit(kDqlMinLimit);
      t.dql.reset(monotonic_ns());
    }
    for (uint16_t q = 0; q < p.max_queues(); q++)
      rx_.emplace_back(id, q);
    const PortOptions& o = dp_.ports_[id].options;
    if (o.coalesce == Coalesce::kRsc) ps.rsc = std::make_unique<offload::Rsc>(o.rsc);
    for (int fd : dp_.ports_[id].options.wait_fds) {
      struct epoll_event ev {};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
  }
  peers_.clear();
  peers_.resize(dp_.worker_count());
  for (uint16_t w = 0; w < dp_.worker_count(); w++) {
    if (w == index_) continue;
    peers_[w].out = std::make_unique<SpscRing<Handoff>>(1024);
    peers_[w].returned = std::make_unique<SpscRing<Packet*>>(1024);
  }
  config_.refresh();
  switcher_->configure(config_.get());
}

uint32_t Worker::handoff_pending() const {
  uint32_t n = 0;
  for (uint16_t w = 0; w < dp_.worker_count(); w++) {
    if (w == index_) continue;
    n += dp_.worker(w).peers_[index_].out->size();
  }
  return n;
}

uint64_t Worker::handoff_consumed() const {
  uint64_t n = 0;
  for (uint16_t w = 0; w < dp_.worker_count(); w++) {
    if (w == index_) continue;
    n += dp_.worker(w).peers_[index_].out->consumed();
  }
  return n;
}

uint32_t Worker::run_once() {
  now_ns_ = monotonic_ns();
  counters_.iterations++;
  heartbeat_.store(counters_.iterations, std::memory_order_relaxed);
  sync_rx_filters();
  if (config_.refresh()) {
    switcher_->configure(config_.get());
    counters_.snapshots++;
  }
  // Capabilities and queue counts may change between bursts (guest renegotiation).
  for (uint16_t id = 0; id < ports_.size(); id++) {
    PortState& ps = ports_[id];
    if (!ps.owned) continue;
    port::Port& p = dp_.port(id);
    ps.caps = p.capabilities();
    ps.nq = std::max<uint16_t>(1, std::min<uint16_t>(p.num_queues(), ps.txq.size()));
    if (ps.nq > 1 && ps.rss_nq != ps.nq) build_rss(ps);
  }
  uint32_t received = 0;
  Packet* pkts[kBurst];
  for (auto [id, q] : rx_) {
    uint16_t n = dp_.port(id).rx_burst(q, pkts, kBurst);
    if (n == 0) continue;
    received += n;
    process(id, pkts, n);
  }
  poll_rsc();
  received += drain_handoffs();
  flush_all();
  push_handoffs();
  // Originals of packets other workers copied come back to be freed here.
  for (Peer& peer : peers_) {
    if (!peer.returned) continue;
    Packet* back[kBurst];
    uint32_t k;
    while ((k = peer.returned->pop(back, kBurst)) != 0)
      free_packets(back, k);
  }
  if ((++turn_ & 1023) == 0) switcher_->tick(now_ns_);
  counters_.packets += received;
  if (received != 0) counters_.busy_polls++;
  return received;
}

void Worker::sync_rx_filters() {
  // One virtual call per owned port and turn; the filter is read only when it changed.
  for (uint16_t id = 0; id < ports_.size(); id++) {
    PortState& ps = ports_[id];
    if (!ps.owned) continue;
    const port::Port& p = dp_.port(id);
    uint64_t g = p.rx_filter_generation();
    if (g == ps.rx_filter_generation) continue;
    ps.rx_filter_generation = g;
    port::ReceiveFilter f;
    p.rx_filter(&f);
    dp_.set_rx_filter(id, f);
  }
}

void Worker::process(uint16_t in_port, Packet** pkts, uint16_t n) {
  PortState& in = ports_[in_port];
  in.counters.rx_packets += n;
  in.counters.rx_bursts++;
  in.counters.rx_batch[port::batch_bucket(n)]++;
  for (uint16_t i = 0; i < n; i++) {
    Packet* p = pkts[i];
    in.counters.rx_bytes += p->pkt_len();
    p->set_in_port(in_port);
    // A frame that does not parse fully is still switched on its Ethernet header.
    (void)proto::parse_packet(*p);
  }
  switch (dp_.ports_[in_port].options.coalesce) {
    case Coalesce::kOff:
      break;
    case Coalesce::kGro:
      in.counters.gro_in += n;
      n = static_cast<uint16_t>(gro_.reassemble_burst(pkts, n));
      in.counters.gro_out += n;
      break;
    case Coalesce::kRsc:
      if (in.rsc) {
        coalesce_rsc(in_port, in, pkts, n);
        return;
      }
      break;
  }
  forward(in_port, pkts, n);
}

void Worker::coalesce_rsc(uint16_t in_port, PortState& in, Packet** pkts, uint16_t n) {
  // Every frame yields at most 2 packets (a flushed segment and itself).
  Packet* out[2 * kBurst];
  uint32_t produced = 0;
  uint16_t start = 0;
  auto run = [&](uint16_t end) {
    if (end > start) {
      offload::Rsc::Result r = in.rsc->process(pkts + start, end - start, now_ns_, out + produced,
                                               2 * kBurst - produced);
      produced += r.produced;
    }
  };
  for (uint16_t i = 0; i < n; i++) {
    if (rsc_checksums_ok(*pkts[i])) continue;
    // Checksums that do not verify: switched as is, outside RSC (its receiver drops it;
    // its order relative to a held segment of its flow does not matter).
    run(i);
    out[produced++] = pkts[i];
    start = static_cast<uint16_t>(i + 1);
    in.counters.rsc_unverified++;
  }
  run(n);
  in.counters.rsc_in += n;
  in.counters.rsc_out += produced;
  forward_all(in_port, out, produced);
}

void Worker::poll_rsc() {
  for (uint16_t id = 0; id < ports_.size(); id++) {
    PortState& ps = ports_[id];
    if (!ps.rsc || ps.rsc->next_deadline_ns() > now_ns_) continue;
    Packet* out[kBurst];
    uint32_t k;
    while ((k = ps.rsc->poll(now_ns_, out, kBurst)) != 0) {
      ps.counters.rsc_out += k;
      forward(id, out, static_cast<uint16_t>(k));
      if (k < kBurst) break;
    }
  }
}

uint64_t Worker::rsc_deadline_ns() const {
  uint64_t d = offload::Rsc::kNoDeadline;
  for (const PortState& ps : ports_) {
    if (ps.rsc) d = std::min(d, ps.rsc->next_deadline_ns());
  }
  return d;
}

void Worker::forward_all(uint16_t in_port, Packet** pkts, uint32_t n) {
  for (uint32_t i = 0; i < n; i += kBurst)
    forward(in_port, pkts + i, static_cast<uint16_t>(std::min<uint32_t>(kBurst, n - i)));
}

// Switching and output of a burst (at most kBurst) received on in_port.
void Worker::forward(uint16_t in_port, Packet** pkts, uint16_t n) {
  if (n == 0) return;
  PortState& in = ports_[in_port];
  switcher_->decide(in_port, pkts, n, masks_, now_ns_);
  for (uint16_t i = 0; i < n; i++) {
    Packet* p = pkts[i];
    const PortMask& m = masks_[i];
    uint32_t dests = m.count();
    if (dests == 0) {
      in.counters.drop(PipelineDrop::kNoDestination);
      free_packet(p);
      continue;
    }
    uint32_t left = dests;
    m.for_each([&](uint16_t out) {
      if (out >= ports_.size()) return;
      Packet* q = p;
      if (--left != 0) {
        q = clone_packet(*pool_, *p);
        if (q == nullptr) {
          ports_[out].counters.drop(PipelineDrop::kCloneFailed);
          return;
        }
        ports_[out].counters.cloned++;
      }
      route(out, q, i);
    });
  }
}

void Worker::route(uint16_t out_port, Packet* pkt, uint16_t index) {
  PortState& ps = ports_[out_port];
  if (!switcher_->egress(out_port, pkt, index)) {
    ps.counters.drop(PipelineDrop::kEgressFiltered);
    free_packet(pkt);
    return;
  }
  if (ps.owned) {
    output(out_port, pkt);
    return;
  }
  Peer& peer = peers_[dp_.owner(out_port)];
  if (peer.n_staged == kBurst) push_handoffs();
  if (peer.n_staged == kBurst) {
    ps.counters.drop(PipelineDrop::kHandoffFull);
    free_packet(pkt);
    return;
  }
  peer.staged[peer.n_staged++] = {pkt, out_port};
  ps.counters.handoff_out++;
}

void Worker::output(uint16_t out_port, Packet* pkt) {
  PortState& ps = ports_[out_port];
  if (pkt->has_rsc_info() &&
      ((ps.caps & port::kCapTxRscInfo) == 0 || (pkt->is_gso() && !port_takes_gso(ps.caps, *pkt)))) {
    // RSC info only for a peer that negotiated it and takes the frame whole.
    if (offload::rsc_strip_info(*pkt) != csum::CsumError::kOk) {
      ps.counters.drop(PipelineDrop::kChecksumFailed);
      free_packet(pkt);
      return;
    }
    ps.counters.rsc_stripped++;
  }
  if (pkt->is_gso()) {
    if (port_takes_gso(ps.caps, *pkt)) {
      ps.counters.gso_passed++;
    } else {
      // Offload negotiation per hop: this port cannot take the frame whole.
      gso_.set_csum_mode((ps.caps & port::kCapTxCsum) != 0 ? offload::GsoCsumMode::kPartial
                                                           : offload::GsoCsumMode::kFill);
      Packet* segs[256];
      uint32_t k = 0;
      offload::GsoError e = gso_.segment(*pkt, segs, 256, &k);
      free_packet(pkt);
      if (e != offload::GsoError::kOk) {
        ps.counters.drop(PipelineDrop::kGsoFailed);
        return;
      }
      ps.counters.gso_in++;
      ps.counters.gso_segments += k;
      for (uint32_t i = 0; i < k; i++) {
        if (segs[i]->csum_state() == CsumState::kPartial) ps.counters.csum_passed++;
        enqueue(out_port, ps, segs[i]);
      }
      return;
    }
  }
  if (pkt->csum_state() == CsumState::kPartial) {
    if ((ps.caps & port::kCapTxCsum) == 0) {
      if (csum::finish_partial(*pkt) != csum::CsumError::kOk) {
        ps.counters.drop(PipelineDrop::kChecksumFailed);
        free_packet(pkt);
        return;
      }
      ps.counters.csum_filled++;
    } else {
      ps.counters.csum_passed++;
    }
  }
  enqueue(out_port, ps, pkt);
}

void Worker::enqueue(uint16_t out_port, PortState& ps, Packet* pkt) {
  uint16_t q = 0;
  if (ps.nq > 1) {
    // RSS (Toeplitz, symmetric key, indirection table) picks the output queue, so both
    // directions of a flow share one queue; frames it cannot classify use a flow hash.
    steer::RssResult r;
    if (ps.rss) r = ps.rss->classify(*pkt);
    q = r.report != steer::HashReport::kNone ? static_cast<uint16_t>(r.queue % ps.nq)
                                             : static_cast<uint16_t>(flow_hash(*pkt) % ps.nq);
  }
  TxQueue& t = ps.txq[q];
  if (t.n == 0) dirty_.push_back(static_cast<uint16_t>(out_port << 4 | q));
  t.pkts[t.n++] = pkt;
  t.bytes += pkt->pkt_len();
  t.dql.queued(pkt->pkt_len());
  if (t.n >= kTxFlushThreshold) {
    flush(out_port, q, t, true);
  } else if (t.dql.stopped()) {
    ps.counters.txq[q].dql_flushes++;
    flush(out_port, q, t, true);
  }
}

void Worker::build_rss(PortState& ps) {
  steer::RssConfig c;
  c.hash_types = steer::kAllHashTypes;
  c.key.assign(steer::kSymmetricKey.begin(), steer::kSymmetricKey.end());
  for (uint16_t i = 0; i < steer::kDefaultMaxTableLen; i++)
    c.indirection_table.push_back(i % ps.nq);
  steer::RssLimits limits;
  limits.num_queues = ps.nq;
  ps.rss = steer::Rss::create(c, limits);
  ps.rss_nq = ps.nq;
}

void Worker::flush(uint16_t port, uint16_t q, TxQueue& t, bool early) {
  if (t.n == 0) return;
  TxQueueCounters& c = ports_[port].counters.txq[q];
  uint16_t n = t.n;
  uint32_t bytes = t.bytes;
  t.n = 0;
  t.bytes = 0;
  dp_.port(port).tx_burst(q, t.pkts, n);
  c.packets += n;
  c.bytes += bytes;
  c.flushes++;
  c.kicks_suppressed += n - 1;
  c.batch[port::batch_bucket(n)]++;
  if (early) c.early_flushes++;
  t.dql.completed(bytes, now_ns_);
  c.dql_limit = t.dql.limit();
}

void Worker::flush_all() {
  for (uint16_t key : dirty_) {
    uint16_t port = key >> 4, q = key & 15;
    flush(port, q, ports_[port].txq[q], false);
  }
  dirty_.clear();
}

void Worker::push_handoffs() {
  for (uint16_t w = 0; w < peers_.size(); w++) {
    Peer& peer = peers_[w];
    if (peer.n_staged == 0) continue;
    uint32_t pushed = peer.out->push(peer.staged, peer.n_staged);
    for (uint32_t i = pushed; i < peer.n_staged; i++) {
      ports_[peer.staged[i].port].counters.drop(PipelineDrop::kHandoffFull);
      free_packet(peer.staged[i].pkt);
    }
    peer.n_staged = 0;
  }
}

uint32_t Worker::drain_handoffs() {
  uint32_t total = 0;
  for (uint16_t w = 0; w < dp_.worker_count(); w++) {
    if (w == index_) continue;
    Peer& from = dp_.worker(w).peers_[index_];
    Handoff in[kBurst];
    uint32_t k = from.out->pop(in, kBurst);
    if (k == 0) continue;
    total += k;
    counters_.handoff_in += k;
    Packet* originals[kBurst];
    for (uint32_t i = 0; i < k; i++) {
      originals[i] = in[i].pkt;
      Packet* c = clone_packet(*pool_, *in[i].pkt);
      if (c == nullptr) {
        ports_[in[i].port].counters.drop(PipelineDrop::kCloneFailed);
        continue;
      }
      output(in[i].port, c);
    }
    // The originals go back to the worker whose pool they came from.
    uint32_t back = from.returned->push(originals, k);
    (void)back;  // the return ring is as large as the handoff ring: it always fits
  }
  return total;
}

void Worker::wait(uint32_t sleep_us) {
  // Control events first (vhost-user messages), then sleep until a port fd is readable
  // or the timeout passes.
  loop_.run_once(0);
  struct epoll_event events[8];
  struct timespec ts {
    0, static_cast<long>(sleep_us) * 1000
  };
  if (epoll_pwait2(epoll_fd_, events, 8, &ts, nullptr) > 0) counters_.wakeups++;
}

void Worker::loop_main() {
  if (cpu_ >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu_, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
      dp_.log("worker " + std::to_string(index_) + ": cannot pin to cpu " + std::to_string(cpu_));
    }
  }
  std::string name = "ferry-w" + std::to_string(index_);
  pthread_setname_np(pthread_self(), name.c_str());
  pool_->release_owner();
  uint32_t turns = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    uint32_t n = run_once();
    // Control events (vhost-user messages) between bursts, every 64 turns when busy.
    if ((++turns & 63) == 0) loop_.run_once(0);
    overcommit_.sample(now_ns_);
    bool over = overcommit_.overcommitted();
    if (over) counters_.overcommitted_samples++;
    switch (policy_.next(n, over)) {
      case PollAction::kPoll:
        counters_.spins++;
        break;
      case PollAction::kYield:
        counters_.yields++;
        sched_yield();
        break;
      case PollAction::kSleep: {
        counters_.sleeps++;
        // Never past an RSC timer: held segments leave on time when the worker is idle.
        uint32_t us = policy_.sleep_us();
        uint64_t deadline = rsc_deadline_ns();
        if (deadline != offload::Rsc::kNoDeadline) {
          uint64_t left = deadline > now_ns_ ? (deadline - now_ns_) / 1000 : 0;
          us = static_cast<uint32_t>(std::min<uint64_t>(us, std::max<uint64_t>(left, 1)));
        }
        wait(us);
        break;
      }
    }
  }
  running_.store(false);
}

void Worker::start() {
  stop_.store(false);
  running_.store(true);
  pool_->release_owner();
  thread_ = std::thread([this] { loop_main(); });
}

void Worker::join() {
  request_stop();
  if (thread_.joinable()) thread_.join();
  pool_->release_owner();
}

// --- Datapath -----------------------------------------------------------------------------

Datapath::Datapath(DatapathConfig config)
    : config_(std::move(config)),
      cell_(std::make_shared<const ForwardingConfig>()),
      bridge_(std::make_unique<sw::Bridge>()),
      watchdog_(config_.stuck_ns) {
  if (config_.workers == 0) config_.workers = 1;
  for (uint16_t i = 0; i < config_.workers; i++) {
    int cpu = i < config_.cpus.size() ? config_.cpus[i] : -1;
    workers_.push_back(std::make_unique<Worker>(*this, i, cpu));
  }
  start_ns_ = monotonic_ns();
}

Datapath::~Datapath() {
  stop();
  // Buffered packets first, then the ports (they hold pool buffers and use the workers'
  // event loops), then the workers and their pools.
  for (auto& w : workers_)
    w->release_packets();
  ports_.clear();
  workers_.clear();
}

uint16_t Datapath::next_worker() const {
  std::vector<uint32_t> load(workers_.size(), 0);
  for (const PortEntry& e : ports_)
    load[e.owner]++;
  return static_cast<uint16_t>(std::min_element(load.begin(), load.end()) - load.begin());
}

uint16_t Datapath::add_port(std::unique_ptr<port::Port> p, PortOptions options) {
  PortEntry e;
  e.owner = options.worker >= 0 && options.worker < static_cast<int>(workers_.size())
                ? static_cast<uint16_t>(options.worker)
                : next_worker();
  e.port = std::move(p);
  e.options = std::move(options);
  ports_.push_back(std::move(e));
  return static_cast<uint16_t>(ports_.size() - 1);
}

int Datapath::find_port(const std::string& name) const {
  for (size_t i = 0; i < ports_.size(); i++) {
    if (ports_[i].port->name() == name) return static_cast<int>(i);
  }
  return -1;
}

ForwardingConfig Datapath::default_forwarding() const {
  ForwardingConfig c;
  for (const PortEntry& e : ports_) {
    PortForwarding f;
    f.name = e.port->name();
    c.ports.push_back(f);
  }
  return c;
}

void Datapath::publish(ForwardingConfig config) {
  std::lock_guard<std::mutex> lock(publish_mutex_);
  bridge_->fdb().set_ageing_ns(config.ageing_ns);
  for (const StaticFdbEntry& e : config.static_fdb) {
    proto::MacAddress m;
    for (int i = 0; i < 6; i++)
      m.bytes[i] = static_cast<uint8_t>(e.mac >> (40 - 8 * i));
    bridge_->fdb().add_static(m, e.vlan == 0 ? 1 : e.vlan, e.port);
  }
  given_bridge_ = std::move(config.bridge);
  publish_locked(std::move(config));
}

void Datapath::set_rx_filter(uint16_t id, const port::ReceiveFilter& filter) {
  std::lock_guard<std::mutex> lock(publish_mutex_);
  if (id >= rx_filters_.size()) rx_filters_.resize(id + 1u);
  rx_filters_[id] = to_bridge_filter(filter);
  // The current configuration again, with a bridge snapshot rebuilt around the filter.
  ForwardingConfig config = *cell_.load();
  config.bridge.reset();
  publish_locked(std::move(config));
}

bool Datapath::rx_promisc(uint16_t id) const {
  std::shared_ptr<const ForwardingConfig> c = cell_.load();
  const sw::PortConfig* pc = c->bridge ? c->bridge->find_port(id) : nullptr;
  return pc == nullptr || pc->rx_filter.promisc();
}

uint64_t Datapath::rx_filtered(uint16_t id) const {
  uint64_t n = 0;
  for (const auto& w : workers_)
    n += w->switcher_->rx_filtered(id);
  return n;
}

void Datapath::publish_locked(ForwardingConfig config) {
  config.generation = cell_.epoch() + 1;
  if (given_bridge_) {
    auto bc = std::make_shared<sw::BridgeConfig>(*given_bridge_);
    for (size_t i = 0; i < rx_filters_.size() && i < bc->port_count(); i++) {
      if (rx_filters_[i]) bc->port(static_cast<uint16_t>(i)).rx_filter = *rx_filters_[i];
    }
    bc->finalize();
    config.bridge = std::move(bc);
  } else {
    config.bridge = make_bridge_config(config, rx_filters_);
  }
  cell_.publish(std::make_shared<const ForwardingConfig>(std::move(config)));
}

void Datapath::log(const std::string& line) const {
  if (config_.log) {
    config_.log(line);
  } else {
    std::fprintf(stderr, "ferry: %s\n", line.c_str());
  }
}

void Datapath::prepare() {
  if (prepared_) return;
  if (cell_.load()->ports.size() != ports_.size()) publish(default_forwarding());
  for (auto& w : workers_)
    w->prepare();
  prepared_ = true;
}

void Datapath::start() {
  if (started_) return;
  prepare();
  // Watchdog probes: every worker, and every tx queue whose peer stops taking packets.
  for (auto& w : workers_) {
    Worker* wp = w.get();
    watchdog_.add({"worker " + std::to_string(wp->index()),
                   [wp] { return wp->heartbeat_.load(std::memory_order_relaxed); },
                   [wp] { return wp->running(); }});
    watchdog_.add({"worker " + std::to_string(wp->index()) + " handoff",
                   [wp] { return wp->handoff_consumed(); },
                   [wp] { return wp->handoff_pending() != 0; }});
  }
  for (uint16_t id = 0; id < ports_.size(); id++) {
    port::Port* p = ports_[id].port.get();
    for (uint16_t q = 0; q < p->max_queues(); q++) {
      auto last_full = std::make_shared<uint64_t>(0);
      watchdog_.add(
          {"port " + p->name() + " txq " + std::to_string(q),
           [p, q] { return p->queue_stats(q).tx.packets; },
           [p, q, last_full] {
             // Pending: the peer refused packets (no room) since the last look.
             uint64_t full =
                 p->queue_stats(q).tx.drops[static_cast<unsigned>(port::DropReason::kRingFull)];
             bool grew = full != *last_full;
             *last_full = full;
             return grew;
           }});
    }
  }
  for (auto& w : workers_)
    w->start();
  watchdog_.start(config_.watchdog_period_ms, [this](const WatchdogEvent& e) {
    log(e.name + (e.stuck ? ": stuck, no progress for " : ": recovered after ") +
        std::to_string(e.stalled_ns / 1'000'000) + " ms");
  });
  started_ = true;
}

void Datapath::stop() {
  if (!started_) return;
  watchdog_.stop();
  for (auto& w : workers_)
    w->request_stop();
  for (auto& w : workers_)
    w->join();
  started_ = false;
}

PortCounters Datapath::port_counters(uint16_t id) const {
  PortCounters c;
  for (const auto& w : workers_) {
    if (id < w->ports_.size()) c.add(w->ports_[id].counters);
  }
  return c;
}

ForwardingStats Datapath::forwarding_stats() const {
  ForwardingStats s;
  for (const auto& w : workers_) {
    const ForwardingStats& o = w->forwarding_stats();
    s.lookups += o.lookups;
    s.hits += o.hits;
    s.floods += o.floods;
    s.learned += o.learned;
    s.moved += o.moved;
    s.aged += o.aged;
    s.spoofed += o.spoofed;
    s.vlan_filtered += o.vlan_filtered;
    s.disabled += o.disabled;
    s.suppressed += o.suppressed;
  }
  return s;
}

uint64_t Datapath::uptime_ns() const {
  return monotonic_ns() - start_ns_;
}

}  // namespace ferry::runtime
