// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder while the r2 stack is written (refuses the configuration).

#include "engine.h"

namespace switchboard {

std::unique_ptr<Stack> make_r2(Engine&, json, std::string field) {
  throw EngineError("E_CONFIG_FIELD", field + ".signalling", "the r2 stack is not built yet");
}

}  // namespace switchboard
