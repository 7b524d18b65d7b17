#include "model/decode_loop.h"

#include <algorithm>
#include <deque>

#include "common/errors.h"
#include "common/profile.h"

namespace hiexp::model {
namespace {

// The stop string found in the text of a row's last `window` tokens, or -1.
int32_t findStop(const std::deque<int64_t>& tail, const std::vector<std::string>& pieces, const StopRules& rules,
                 std::string& text) {
  text.clear();
  for (int64_t id : tail) text += pieces[static_cast<size_t>(id)];
  for (size_t k = 0; k < rules.stops.size(); ++k)
    if (text.find(rules.stops[k]) != std::string::npos) return static_cast<int32_t>(k);
  return -1;
}

}  // namespace

std::vector<DecodedRow> decodeUntil(GenerationSession& s, const std::vector<std::string>& pieces,
                                    const StopRules& rules, bool park) {
  HX_CHECK_RANGE(s.rows >= 1 && s.last.tokens.defined(), "decodeUntil needs a started generation session");
  HX_CHECK_RANGE(s.rows == static_cast<int64_t>(s.rowIds.size()), "decodeUntil needs a session whose rows were not dropped");
  HX_CHECK_RANGE(rules.stops.empty() || !pieces.empty(), "stop strings need the policy's token pieces");
  profile::Scope timed("generate.decode-loop");
  const int64_t B = s.rows;
  std::vector<DecodedRow> out(static_cast<size_t>(B));
  std::vector<std::deque<int64_t>> tails(static_cast<size_t>(B));
  std::vector<int64_t> rows(static_cast<size_t>(B));  // batch row -> output row
  for (int64_t b = 0; b < B; ++b) rows[b] = b;
  std::string text;
  for (;;) {
    const int64_t* tokens = s.last.tokens.data_ptr<int64_t>();
    const float* logp = s.last.logp.data_ptr<float>();
    std::vector<int64_t> keep;
    {
      profile::Scope checks("generate.stop-checks");
      for (size_t r = 0; r < rows.size(); ++r) {
        DecodedRow& g = out[static_cast<size_t>(rows[r])];
        const int64_t token = tokens[r];
        g.tokens.push_back(static_cast<int32_t>(token));
        g.logprobs.push_back(logp[r]);
        if (std::find(rules.eosIds.begin(), rules.eosIds.end(), token) != rules.eosIds.end()) {
          g.finish = Finish::Eos;
          continue;
        }
        if (rules.window > 0) {
          auto& tail = tails[static_cast<size_t>(rows[r])];
          HX_CHECK_RANGE(token >= 0 && token < static_cast<int64_t>(pieces.size()), "sampled token ", token,
                         " has no piece (the piece table holds ", pieces.size(), ")");
          tail.push_back(token);
          if (static_cast<int64_t>(tail.size()) > rules.window) tail.pop_front();
          const int32_t hit = findStop(tail, pieces, rules, text);
          if (hit >= 0) {
            g.finish = Finish::Stop;
            g.stop = hit;
            continue;
          }
        }
        if (static_cast<int64_t>(g.tokens.size()) >= rules.maxNewTokens) {
          g.finish = Finish::Length;
          continue;
        }
        keep.push_back(static_cast<int64_t>(r));
      }
    }
    if (keep.empty()) break;
    const bool compact = keep.size() < rows.size();
    stepGeneration(s, compact ? &keep : nullptr, park);
    if (compact) {
      std::vector<int64_t> next;
      for (int64_t r : keep) next.push_back(rows[static_cast<size_t>(r)]);
      rows = std::move(next);
    }
  }
  return out;
}

}  // namespace hiexp::model
