#include "csum/csum_error.h"

namespace ferry::csum {

const char* to_string(CsumError error) {
  switch (error) {
    case CsumError::kOk:
      return "ok";
    case CsumError::kBadChecksum:
      return "bad-checksum";
    case CsumError::kNoHeader:
      return "no-header";
    case CsumError::kUnsupported:
      return "unsupported";
    case CsumError::kFragment:
      return "fragment";
    case CsumError::kTruncated:
      return "truncated";
    case CsumError::kBadHeader:
      return "bad-header";
    case CsumError::kBadLength:
      return "bad-length";
    case CsumError::kBadState:
      return "bad-state";
    case CsumError::kCsumStartBeyondEnd:
      return "csum-start-beyond-end";
    case CsumError::kCsumFieldBeyondEnd:
      return "csum-field-beyond-end";
    case CsumError::kCsumStartAfterL4:
      return "csum-start-after-l4";
    case CsumError::kCount:
      break;
  }
  return "?";
}

}  // namespace ferry::csum
