#include "runtime/stats_report.h"

#include <cinttypes>
#include <cstdio>

namespace ferry::runtime {

namespace {

nlohmann::json direction_json(const port::DirectionStats& d) {
  nlohmann::json j = {{"packets", d.packets}, {"bytes", d.bytes}, {"bursts", d.bursts}};
  nlohmann::json drops = nlohmann::json::object();
  for (unsigned r = 0; r < port::kDropReasonCount; r++) {
    if (d.drops[r] != 0) drops[port::to_string(static_cast<port::DropReason>(r))] = d.drops[r];
  }
  j["drops"] = drops;
  j["batch_histogram"] = d.batch;
  return j;
}

nlohmann::json queue_json(const port::QueueStats& s) {
  return {{"rx", direction_json(s.rx)},       {"tx", direction_json(s.tx)},
          {"interrupts", s.interrupts},       {"interrupts_suppressed", s.interrupts_suppressed},
          {"kicks_enabled", s.kicks_enabled}, {"csum_filled", s.csum_filled}};
}

// The RSC engine's counters (the ones that are not zero) with the pipeline's.
nlohmann::json rsc_json(const PortCounters& c, const offload::Rsc* rsc) {
  nlohmann::json j = {{"in", c.rsc_in},
                      {"out", c.rsc_out},
                      {"unverified", c.rsc_unverified},
                      {"stripped", c.rsc_stripped}};
  if (rsc != nullptr) {
    j["cached_segments"] = rsc->cached_segments();
    nlohmann::json e = nlohmann::json::object();
    rsc->stats().for_each_counter([&](const char* name, uint64_t v) {
      if (v != 0) e[name] = v;
    });
    j["engine"] = e;
  }
  return j;
}

nlohmann::json pipeline_json(const PortCounters& c, uint16_t nq, const offload::Rsc* rsc) {
  nlohmann::json drops = nlohmann::json::object();
  for (unsigned r = 0; r < kPipelineDropCount; r++) {
    if (c.drops[r] != 0) drops[to_string(static_cast<PipelineDrop>(r))] = c.drops[r];
  }
  nlohmann::json txq = nlohmann::json::array();
  for (uint16_t q = 0; q < nq && q < c.txq.size(); q++) {
    const TxQueueCounters& t = c.txq[q];
    txq.push_back({{"packets", t.packets},
                   {"bytes", t.bytes},
                   {"kicks", t.flushes},
                   {"kicks_suppressed", t.kicks_suppressed},
                   {"early_flushes", t.early_flushes},
                   {"dql_flushes", t.dql_flushes},
                   {"dql_limit", t.dql_limit},
                   {"batch_histogram", t.batch}});
  }
  return {
      {"rx_packets", c.rx_packets},
      {"rx_bytes", c.rx_bytes},
      {"rx_bursts", c.rx_bursts},
      {"rx_batch_histogram", c.rx_batch},
      {"drops", drops},
      {"gro", {{"in", c.gro_in}, {"out", c.gro_out}}},
      {"rsc", rsc_json(c, rsc)},
      {"gso", {{"segmented", c.gso_in}, {"segments", c.gso_segments}, {"passed", c.gso_passed}}},
      {"csum", {{"filled", c.csum_filled}, {"passed", c.csum_passed}}},
      {"flood_copies", c.cloned},
      {"handoff_out", c.handoff_out},
      {"tx_queues", txq}};
}

}  // namespace

nlohmann::json stats_json(const Datapath& dp) {
  nlohmann::json j;
  j["uptime_s"] = static_cast<double>(dp.uptime_ns()) / 1e9;
  nlohmann::json ports = nlohmann::json::array();
  for (uint16_t id = 0; id < dp.port_count(); id++) {
    const port::Port& p = dp.port(id);
    nlohmann::json pj;
    pj["id"] = id;
    pj["name"] = p.name();
    pj["worker"] = dp.owner(id);
    pj["link_up"] = p.link_up();
    pj["capabilities"] = p.capabilities();
    pj["queues"] = p.num_queues();
    pj["total"] = queue_json(p.stats());
    nlohmann::json qs = nlohmann::json::array();
    for (uint16_t q = 0; q < p.max_queues(); q++)
      qs.push_back(queue_json(p.queue_stats(q)));
    pj["per_queue"] = qs;
    pj["coalesce"] = to_string(dp.port_options(id).coalesce);
    pj["pipeline"] =
        pipeline_json(dp.port_counters(id), p.max_queues(), dp.worker(dp.owner(id)).rsc(id));
    pj["rx_filter"] = {{"promisc", dp.rx_promisc(id)}, {"dropped", dp.rx_filtered(id)}};
    ports.push_back(pj);
  }
  j["ports"] = ports;
  ForwardingStats f = dp.forwarding_stats();
  uint64_t fdb = 0;
  for (uint16_t w = 0; w < dp.worker_count(); w++)
    fdb += dp.worker(w).fdb_size();
  j["fdb"] = {{"entries", fdb},        {"lookups", f.lookups}, {"hits", f.hits},
              {"floods", f.floods},    {"learned", f.learned}, {"moved", f.moved},
              {"aged", f.aged},        {"spoofed", f.spoofed}, {"vlan_filtered", f.vlan_filtered},
              {"disabled", f.disabled}};
  nlohmann::json workers = nlohmann::json::array();
  for (uint16_t w = 0; w < dp.worker_count(); w++) {
    const WorkerCounters& c = dp.worker(w).counters();
    const offload::GroStats& g = dp.worker(w).gro_stats();
    const offload::GsoStats& s = dp.worker(w).gso_stats();
    uint64_t rsc_in = 0, rsc_coalesced = 0, rsc_out = 0;
    for (uint16_t id = 0; id < dp.port_count(); id++) {
      if (const offload::Rsc* r = dp.worker(w).rsc(id)) {
        rsc_in += r->stats().packets_in;
        rsc_out += r->stats().packets_out;
        rsc_coalesced += r->stats().ipv4.coalesced + r->stats().ipv6.coalesced;
      }
    }
    nlohmann::json gso = nlohmann::json::object();
    s.for_each_counter([&](const char* name, uint64_t v) {
      if (v != 0) gso[name] = v;
    });
    workers.push_back({{"index", w},
                       {"iterations", c.iterations},
                       {"busy_polls", c.busy_polls},
                       {"packets", c.packets},
                       {"spins", c.spins},
                       {"yields", c.yields},
                       {"sleeps", c.sleeps},
                       {"overcommitted_samples", c.overcommitted_samples},
                       {"snapshots", c.snapshots},
                       {"handoff_in", c.handoff_in},
                       {"gro_packets_in", g.packets_in},
                       {"rsc", {{"in", rsc_in}, {"coalesced", rsc_coalesced}, {"out", rsc_out}}},
                       {"gso", gso}});
  }
  j["workers"] = workers;
  return j;
}

std::string stats_text(const Datapath& dp) {
  std::string out;
  char line[512];
  for (uint16_t id = 0; id < dp.port_count(); id++) {
    const port::Port& p = dp.port(id);
    port::QueueStats s = p.stats();
    PortCounters c = dp.port_counters(id);
    std::snprintf(line, sizeof(line), "port %s (id %u, worker %u, %s, %u queues%s)\n",
                  p.name().c_str(), id, dp.owner(id), p.link_up() ? "up" : "down", p.num_queues(),
                  dp.rx_promisc(id) ? ", promiscuous" : "");
    out += line;
    if (uint64_t filtered = dp.rx_filtered(id); filtered != 0) {
      std::snprintf(line, sizeof(line), "  rx filter dropped %" PRIu64 "\n", filtered);
      out += line;
    }
    std::snprintf(line, sizeof(line),
                  "  rx %" PRIu64 " pkts %" PRIu64 " B drops %" PRIu64 " | tx %" PRIu64
                  " pkts %" PRIu64 " B drops %" PRIu64 " | interrupts %" PRIu64
                  " suppressed %" PRIu64 "\n",
                  s.rx.packets, s.rx.bytes, s.rx.total_drops(), s.tx.packets, s.tx.bytes,
                  s.tx.total_drops(), s.interrupts, s.interrupts_suppressed);
    out += line;
    for (unsigned r = 0; r < port::kDropReasonCount; r++) {
      uint64_t d = s.rx.drops[r] + s.tx.drops[r];
      if (d == 0) continue;
      std::snprintf(line, sizeof(line), "  port drop %s: rx %" PRIu64 " tx %" PRIu64 "\n",
                    port::to_string(static_cast<port::DropReason>(r)), s.rx.drops[r],
                    s.tx.drops[r]);
      out += line;
    }
    uint64_t kicks = 0, suppressed = 0;
    for (const TxQueueCounters& t : c.txq) {
      kicks += t.flushes;
      suppressed += t.kicks_suppressed;
    }
    std::snprintf(line, sizeof(line),
                  "  pipeline: gro %" PRIu64 "->%" PRIu64 " gso %" PRIu64 "->%" PRIu64
                  " segs, passed whole %" PRIu64 " | csum filled %" PRIu64 " passed %" PRIu64
                  " | tx kicks %" PRIu64 " suppressed %" PRIu64 " | flood copies %" PRIu64 "\n",
                  c.gro_in, c.gro_out, c.gso_in, c.gso_segments, c.gso_passed, c.csum_filled,
                  c.csum_passed, kicks, suppressed, c.cloned);
    out += line;
    if (c.rsc_in != 0 || c.rsc_stripped != 0) {
      const offload::Rsc* rsc = dp.worker(dp.owner(id)).rsc(id);
      uint64_t coalesced = 0, timer = 0, finalized = 0;
      if (rsc != nullptr) {
        const offload::RscStats& r = rsc->stats();
        coalesced = r.ipv4.coalesced + r.ipv6.coalesced;
        timer = r.ipv4.timer_drained + r.ipv6.timer_drained;
        finalized = r.ipv4.finalized + r.ipv6.finalized;
      }
      std::snprintf(
          line, sizeof(line),
          "  rsc: %" PRIu64 "->%" PRIu64 " coalesced %" PRIu64 " timer drained %" PRIu64
          " finalized %" PRIu64 " unverified %" PRIu64 " | rsc info stripped %" PRIu64 "\n",
          c.rsc_in, c.rsc_out, coalesced, timer, finalized, c.rsc_unverified, c.rsc_stripped);
      out += line;
    }
    for (unsigned r = 0; r < kPipelineDropCount; r++) {
      if (c.drops[r] == 0) continue;
      std::snprintf(line, sizeof(line), "  pipeline drop %s: %" PRIu64 "\n",
                    to_string(static_cast<PipelineDrop>(r)), c.drops[r]);
      out += line;
    }
  }
  ForwardingStats f = dp.forwarding_stats();
  std::snprintf(line, sizeof(line),
                "fdb: learned %" PRIu64 " moved %" PRIu64 " aged %" PRIu64 " floods %" PRIu64
                " hits %" PRIu64 " spoofed %" PRIu64 " vlan_filtered %" PRIu64 "\n",
                f.learned, f.moved, f.aged, f.floods, f.hits, f.spoofed, f.vlan_filtered);
  out += line;
  for (uint16_t w = 0; w < dp.worker_count(); w++) {
    const WorkerCounters& c = dp.worker(w).counters();
    std::snprintf(line, sizeof(line),
                  "worker %u: packets %" PRIu64 " busy %" PRIu64 "/%" PRIu64
                  " polls, yields %" PRIu64 " sleeps %" PRIu64 " overcommitted %" PRIu64 "\n",
                  w, c.packets, c.busy_polls, c.iterations, c.yields, c.sleeps,
                  c.overcommitted_samples);
    out += line;
  }
  return out;
}

}  // namespace ferry::runtime
