// A whole generation turn natively: from a started (or resumed) session, sample until every row has met an EOS id,
// a stop string or its token budget, with no return to JavaScript per token. Stop strings are matched on the bytes
// of the last tokens' text pieces (the policy's piece table: piece(id) = the text a token adds when decoded after
// others), over the same window of tokens as the JavaScript loop, so both stop at the same token and draw the same
// random numbers. Rows that finish leave the batch (parked for a later resume when asked), as in that loop.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/generation.h"

namespace hiexp::model {

enum class Finish : int32_t { Length = 0, Eos = 1, Stop = 2 };

struct StopRules {
  std::vector<std::string> stops;   // UTF-8 bytes, non-empty
  std::vector<int64_t> eosIds;
  int64_t maxNewTokens = 1;
  int64_t window = 0;               // tokens whose pieces are searched for a stop string (0: no stop strings)
};

struct DecodedRow {
  std::vector<int32_t> tokens;      // new tokens (the stop string's or EOS token included)
  std::vector<float> logprobs;      // temperature-1 log-prob of each
  Finish finish = Finish::Length;
  int32_t stop = -1;                // index into StopRules::stops when finish is Stop
};

// `pieces` maps every token id below the vocabulary size to its text piece (may be empty when rules.stops is).
std::vector<DecodedRow> decodeUntil(GenerationSession& s, const std::vector<std::string>& pieces,
                                    const StopRules& rules, bool park);

}  // namespace hiexp::model
