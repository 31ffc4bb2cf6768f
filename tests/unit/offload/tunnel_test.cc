#include "offload/tunnel.h"
