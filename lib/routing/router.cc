// lib/routing/router.cc: MakeRouter, the lazy router and the two simple
// exchange types, direct and fanout. Owns only what router.h declares
// (ValidateHeadersBinding lives with the headers exchange in
// headers_match.cc).
#include "routing/router.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "routing/headers_match.h"
#include "routing/topic_trie.h"
#include "string_view.h"

namespace warren::routing {
namespace {

void SortUnique(std::vector<DestinationId>* destinations) {
  std::sort(destinations->begin(), destinations->end());
  destinations->erase(std::unique(destinations->begin(), destinations->end()),
                      destinations->end());
}

// Direct: the routing key must equal the binding key, byte for byte ("" is an
// ordinary key). Binding arguments play no part.
class DirectRouter final : public Router {
 public:
  explicit DirectRouter(const BindingList& bindings) {
    for (const Binding& binding : bindings) {
      by_key_[binding.key].push_back(binding.destination);
    }
    for (auto& [key, destinations] : by_key_) SortUnique(&destinations);
  }

  void Route(std::string_view routing_key, const FieldTable* /*headers*/,
             std::vector<DestinationId>* out) const override {
    auto it = by_key_.find(ToAbsl(routing_key));
    if (it == by_key_.end()) return;
    out->insert(out->end(), it->second.begin(), it->second.end());
  }

 private:
  absl::flat_hash_map<std::string, std::vector<DestinationId>> by_key_;
};

// Fanout: every bound destination, whatever the keys.
class FanoutRouter final : public Router {
 public:
  explicit FanoutRouter(const BindingList& bindings) {
    destinations_.reserve(bindings.size());
    for (const Binding& binding : bindings) {
      destinations_.push_back(binding.destination);
    }
    SortUnique(&destinations_);
  }

  void Route(std::string_view /*routing_key*/, const FieldTable* /*headers*/,
             std::vector<DestinationId>* out) const override {
    out->insert(out->end(), destinations_.begin(), destinations_.end());
  }

 private:
  std::vector<DestinationId> destinations_;
};

// Builds the real router on the first Route(), from bindings that share
// their chunks with the exchange's own list.
class LazyRouter final : public Router {
 public:
  LazyRouter(std::string_view type, BindingList bindings)
      : type_(type), bindings_(std::move(bindings)) {}
  ~LazyRouter() override { delete built_.load(std::memory_order_acquire); }

  void Route(std::string_view routing_key, const FieldTable* headers,
             std::vector<DestinationId>* out) const override {
    const Router* router = built_.load(std::memory_order_acquire);
    if (router == nullptr) router = Build();
    router->Route(routing_key, headers, out);
  }

 private:
  const Router* Build() const {
    // The type was checked when this router was made.
    const Router* made = MakeRouter(type_, bindings_)->release();
    const Router* expected = nullptr;
    if (built_.compare_exchange_strong(expected, made, std::memory_order_acq_rel)) return made;
    delete made;  // another thread's router was kept
    return expected;
  }

  const std::string type_;
  const BindingList bindings_;
  mutable std::atomic<const Router*> built_{nullptr};
};

}  // namespace

bool IsExchangeType(std::string_view type) {
  return type == "direct" || type == "fanout" || type == "topic" ||
         type == "headers";
}

absl::StatusOr<std::unique_ptr<const Router>> MakeRouter(std::string_view type,
                                                         const BindingList& bindings) {
  if (type == "direct") return std::make_unique<DirectRouter>(bindings);
  if (type == "fanout") return std::make_unique<FanoutRouter>(bindings);
  if (type == "topic") return std::make_unique<TopicTrie>(bindings);
  if (type == "headers") return std::make_unique<HeadersRouter>(bindings);
  return absl::InvalidArgumentError(
      StrCat("unknown exchange type '", type, "'"));
}

absl::StatusOr<std::unique_ptr<const Router>> MakeLazyRouter(std::string_view type,
                                                             BindingList bindings) {
  if (!IsExchangeType(type)) {
    return absl::InvalidArgumentError(StrCat("unknown exchange type '", type, "'"));
  }
  return std::make_unique<LazyRouter>(type, std::move(bindings));
}

}  // namespace warren::routing
