// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder while the ss7 stack is written (refuses the configuration).

#include "engine.h"

namespace switchboard {

std::unique_ptr<Stack> make_ss7(Engine&, json, std::string field) {
  throw EngineError("E_CONFIG_FIELD", field + ".signalling", "the ss7 stack is not built yet");
}

}  // namespace switchboard
