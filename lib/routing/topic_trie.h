// lib/routing/topic_trie.h: the topic exchange's routing table.
//
// Owns: splitting keys into words and matching routing keys against binding
// keys with RabbitMQ 3.10's wildcards. Must not touch: binding bookkeeping or
// anything outside one exchange (see router.h).
//
// Rules (RabbitMQ's rabbit_exchange_type_topic, confirmed by the recorded
// topic__* cases):
//   - A key is split at every '.', so "a..b" has three words (the middle one
//     empty) and "a.b." ends with an empty word; the empty key "" has no words
//     at all (not one empty word). Binding keys and routing keys split alike.
//   - In a binding key, the whole word "*" matches exactly one word (which may
//     be empty) and the whole word "#" matches zero or more words. Inside a
//     longer word ("a*", "#b") they are ordinary characters, and in a routing
//     key every word is literal.
//   - Hence "#" matches every key, "" included; "*" never matches ""; the
//     binding key "" matches only the routing key "".
//
// Matching runs the trie as a nondeterministic automaton, one step per word of
// the routing key, over the set of trie nodes still alive. Its cost depends on
// the routing key and on how many binding keys share its prefixes and
// wildcards, not on the total number of bindings.
//
// Thread-safety: immutable after construction; Route() may run concurrently.
#ifndef WARREN_LIB_ROUTING_TOPIC_TRIE_H_
#define WARREN_LIB_ROUTING_TOPIC_TRIE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "routing/router.h"

namespace warren::routing {

class TopicTrie final : public Router {
 public:
  explicit TopicTrie(const BindingList& bindings);

  void Route(std::string_view routing_key, const FieldTable* headers,
             std::vector<DestinationId>* out) const override;

 private:
  using NodeIndex = uint32_t;
  static constexpr NodeIndex kNoNode = UINT32_MAX;
  static constexpr NodeIndex kRoot = 0;
  // The trie nodes a partial match is at; inline for the usual few.
  using NodeSet = absl::InlinedVector<NodeIndex, 16>;

  struct Node {
    // Children by literal word; "*" and "#" have their own slots.
    absl::flat_hash_map<std::string, NodeIndex> literal_children;
    NodeIndex star_child = kNoNode;
    NodeIndex hash_child = kNoNode;
    // Whether the edge into this node is "#": such a node can absorb any
    // number of further words without moving.
    bool absorbs_words = false;
    // Destinations whose binding key ends at this node, without duplicates.
    std::vector<DestinationId> destinations;
  };

  // Descends from `parent` along `word`, creating the node when missing.
  NodeIndex ChildForBinding(NodeIndex parent, std::string_view word);
  // Appends `node` and every node reachable from it through "#" edges alone
  // (a "#" that matches zero words).
  void AddWithZeroWordHashes(NodeIndex node, NodeSet* alive) const;

  std::vector<Node> nodes_;
};

}  // namespace warren::routing

#endif  // WARREN_LIB_ROUTING_TOPIC_TRIE_H_
