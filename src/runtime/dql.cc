#include "runtime/dql.h"

#include <algorithm>

namespace ferry::runtime {

namespace {
// a - b when a is after b in wrap-around order, else 0.
inline uint32_t pos_diff(uint32_t a, uint32_t b) {
  int32_t d = static_cast<int32_t>(a - b);
  return d > 0 ? static_cast<uint32_t>(d) : 0;
}
inline bool after_eq(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) >= 0;
}
}  // namespace

void Dql::reset(uint64_t now_ns) {
  limit_ = min_limit_;
  num_queued_ = 0;
  num_completed_ = 0;
  last_obj_cnt_ = 0;
  prev_num_queued_ = 0;
  prev_last_obj_cnt_ = 0;
  prev_ovlimit_ = 0;
  lowest_slack_ = UINT32_MAX;
  slack_start_ns_ = now_ns;
  adj_limit_ = limit_;
}

void Dql::completed(uint32_t bytes, uint64_t now_ns) {
  const uint32_t queued = num_queued_;
  // A consumer cannot complete more than is in flight; clamp rather than corrupt state.
  bytes = std::min(bytes, queued - num_completed_);
  const uint32_t done = num_completed_ + bytes;
  uint32_t limit = limit_;
  uint32_t ovlimit = pos_diff(queued - num_completed_, limit);
  const uint32_t inprogress = queued - done;
  const uint32_t prev_inprogress = prev_num_queued_ - num_completed_;
  const bool all_prev_completed = after_eq(done, prev_num_queued_);

  if ((ovlimit != 0 && inprogress == 0) || (prev_ovlimit_ != 0 && all_prev_completed)) {
    // Starved: the queue ran dry while it was held back. Grow by what completed beyond
    // the previous interval plus how far that interval was over the limit.
    limit += pos_diff(done, prev_num_queued_) + prev_ovlimit_;
    slack_start_ns_ = now_ns;
    lowest_slack_ = UINT32_MAX;
  } else if (inprogress != 0 && prev_inprogress != 0 && !all_prev_completed) {
    // Not starved: measure the slack (limit beyond twice what completed) and shrink by
    // the smallest slack seen during the hold time.
    uint32_t slack = pos_diff(limit + prev_ovlimit_, 2 * (done - num_completed_));
    uint32_t slack_last_objs = prev_ovlimit_ != 0 ? pos_diff(prev_last_obj_cnt_, prev_ovlimit_) : 0;
    slack = std::max(slack, slack_last_objs);
    lowest_slack_ = std::min(lowest_slack_, slack);
    if (now_ns > slack_start_ns_ + slack_hold_ns_) {
      limit = pos_diff(limit, lowest_slack_);
      slack_start_ns_ = now_ns;
      lowest_slack_ = UINT32_MAX;
    }
  }

  limit = std::clamp(limit, min_limit_, max_limit_);
  if (limit != limit_) {
    limit_ = limit;
    ovlimit = 0;
  }
  adj_limit_ = limit + done;
  prev_ovlimit_ = ovlimit;
  prev_last_obj_cnt_ = last_obj_cnt_;
  num_completed_ = done;
  prev_num_queued_ = queued;
}

}  // namespace ferry::runtime
