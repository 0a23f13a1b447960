// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder while the analog stack is written (refuses the configuration).

#include "engine.h"

namespace switchboard {

std::unique_ptr<Stack> make_analog(Engine&, json, std::string field) {
  throw EngineError("E_CONFIG_FIELD", field + ".signalling", "the analog stack is not built yet");
}

}  // namespace switchboard
