#pragma once

// NotifyPolicy: every kick and interrupt decision of one virtqueue, in one place.
//
// Kicks (driver -> device) are suppressed by what the device publishes: without
// EVENT_IDX the split ring's VRING_USED_F_NO_NOTIFY flag / the packed ring's device event
// flags; with EVENT_IDX the avail_event index (split) or a descriptor event (packed). A
// poll-mode worker keeps kicks off while it polls and turns them on before it sleeps.
//
// Interrupts (device -> driver) are asked for by the driver: VRING_AVAIL_F_NO_INTERRUPT /
// the packed driver event flags, or with EVENT_IDX the used_event index, evaluated with
// vring_need_event(): interrupt when the used index crossed the driver's event index
// since the last interrupt.
//
// The object is also the hook for interrupt coalescing (VIRTIO_NET_F_NOTF_COAL): with
// max_frames > 1 an interrupt the ring asks for is held back until that many used entries
// accumulated, and the runtime's timer calls force() for the rest (interrupt_pending()).

#include <cstdint>

#include "virtio/vring.h"

namespace ferry::virtio {

// vring_need_event() for packed rings, whose positions run 0..size-1 per lap: true if the
// event position in off_wrap (bits 0-14, wrap counter in bit 15) lies in [old, now), where
// `now` (with wrap counter now_wrap) is at most one lap past `old`.
inline bool packed_need_event(uint16_t off_wrap, uint16_t old, uint16_t now, bool now_wrap,
                              uint16_t size) {
  // Move `old` and the event one lap back when they belong to the previous lap.
  if (now <= old) old = static_cast<uint16_t>(old - size);
  uint16_t event = off_wrap & 0x7fff;
  bool event_wrap = (off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR) != 0;
  if (event_wrap != now_wrap) event = static_cast<uint16_t>(event - size);
  return vring_need_event(event, now, old) != 0;
}

class NotifyPolicy {
 public:
  void reset(bool event_idx) {
    event_idx_ = event_idx;
    signalled_valid_ = false;
    unsignalled_frames_ = 0;
  }
  bool event_idx() const { return event_idx_; }

  // --- kicks -----------------------------------------------------------------------------
  bool kick_enabled() const { return kick_enabled_; }
  void set_kick_enabled(bool on) { kick_enabled_ = on; }

  // --- interrupts ------------------------------------------------------------------------
  void set_coalescing(uint32_t max_frames) { max_frames_ = max_frames; }
  // `frames` used entries were published since the last call.
  void note_used(uint32_t frames) { unsignalled_frames_ += frames; }
  bool interrupt_pending() const { return unsignalled_frames_ != 0; }
  // The next decision interrupts whenever the ring allows it (coalescing timer expired).
  void force() { forced_ = true; }

  // Split ring: the used index now published, the driver's used_event and avail flags.
  bool split_interrupt(uint16_t new_used, uint16_t used_event, uint16_t avail_flags) {
    if (unsignalled_frames_ == 0) return false;  // nothing new to tell
    bool want;
    if (event_idx_) {
      want = !signalled_valid_ || vring_need_event(used_event, new_used, signalled_);
    } else {
      want = (avail_flags & VRING_AVAIL_F_NO_INTERRUPT) == 0;
    }
    return decide(want, new_used);
  }

  // Packed ring: the used position (0..size-1) and wrap counter now published, and the
  // driver event suppression structure (flags, off_wrap).
  bool packed_interrupt(uint16_t new_pos, bool new_wrap, uint16_t size, uint16_t flags,
                        uint16_t off_wrap) {
    if (unsignalled_frames_ == 0) return false;  // nothing new to tell
    uint16_t now = new_pos;
    bool want;
    if (flags == VRING_PACKED_EVENT_FLAG_DESC && event_idx_) {
      if (!signalled_valid_) {
        want = true;
      } else {
        want = packed_need_event(off_wrap, signalled_, now, new_wrap, size);
      }
    } else {
      want = flags != VRING_PACKED_EVENT_FLAG_DISABLE;
    }
    return decide(want, now);
  }

  uint64_t interrupts() const { return interrupts_; }
  uint64_t suppressed() const { return suppressed_; }

 private:
  bool decide(bool want, uint16_t now) {
    if (want && max_frames_ > 1 && !forced_ && unsignalled_frames_ < max_frames_) {
      suppressed_++;
      return false;  // held back; the frames stay pending for the timer
    }
    forced_ = false;
    signalled_ = now;
    signalled_valid_ = true;
    unsignalled_frames_ = 0;
    if (want) {
      interrupts_++;
    } else {
      suppressed_++;
    }
    return want;
  }

  bool event_idx_ = false;
  bool kick_enabled_ = true;
  bool signalled_valid_ = false;
  bool forced_ = false;
  uint16_t signalled_ = 0;
  uint32_t max_frames_ = 0;
  uint32_t unsignalled_frames_ = 0;
  uint64_t interrupts_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace ferry::virtio
