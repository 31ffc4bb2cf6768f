#include "virtio/queue_error.h"

namespace ferry::virtio {

const char* to_string(QueueError e) {
  switch (e) {
    case QueueError::kNone:
      return "none";
    case QueueError::kAvailIdxJump:
      return "driver made more than the queue size available";
    case QueueError::kDescIndexOutOfRange:
      return "descriptor index out of range";
    case QueueError::kChainTooLong:
      return "descriptor chain loops or exceeds the queue size";
    case QueueError::kIndirectNotNegotiated:
      return "indirect descriptor not negotiated";
    case QueueError::kIndirectWithNext:
      return "indirect descriptor with NEXT flag";
    case QueueError::kIndirectNested:
      return "nested indirect descriptor";
    case QueueError::kIndirectBadLength:
      return "indirect table length invalid";
    case QueueError::kIndirectOutOfMemory:
      return "indirect table outside guest memory";
    case QueueError::kBufferOutOfMemory:
      return "buffer outside guest memory";
    case QueueError::kZeroLength:
      return "zero-length buffer";
    case QueueError::kReadableAfterWritable:
      return "device-readable buffer after writable";
    case QueueError::kTooManyBuffers:
      return "chain has too many buffers";
    case QueueError::kRxChainNotWritable:
      return "rx chain has no writable buffer";
    case QueueError::kCount:
      break;
  }
  return "unknown";
}

}  // namespace ferry::virtio
