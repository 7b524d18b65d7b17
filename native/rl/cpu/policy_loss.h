// The fused CPU kernel of the policy losses (formulas in rl/policy_loss.h), on raw views of one batch.
#pragma once
#include "rl/policy_loss_types.h"

namespace hiexp::rl {

// Fills gradLogp (B*T) with d loss / d logp and returns the statistics. Checks the options, and refuses a non-finite
// input at a masked token (checkFiniteInputs' message).
PolicyLossStats policyLossCpu(const PolicyLossBatch& batch, const PolicyLossOptions& opts, float* gradLogp);

}  // namespace hiexp::rl
