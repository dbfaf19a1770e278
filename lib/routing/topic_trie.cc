// lib/routing/topic_trie.cc: the topic exchange's trie and its matching.
// Owns only what topic_trie.h declares.
#include "routing/topic_trie.h"

#include <algorithm>
#include <utility>

#include "string_view.h"

namespace warren::routing {
namespace {

constexpr std::string_view kOneWord = "*";
constexpr std::string_view kAnyWords = "#";

using Words = absl::InlinedVector<std::string_view, 16>;

// RabbitMQ's split_topic_key: "" has no words; otherwise every '.' separates
// two words, either of which may be empty.
Words SplitWords(std::string_view key) {
  Words words;
  if (key.empty()) return words;
  size_t start = 0;
  for (size_t dot = key.find('.'); dot != std::string_view::npos;
       dot = key.find('.', start)) {
    words.push_back(key.substr(start, dot - start));
    start = dot + 1;
  }
  words.push_back(key.substr(start));
  return words;
}

template <typename Container>
void SortUnique(Container* items) {
  std::sort(items->begin(), items->end());
  items->erase(std::unique(items->begin(), items->end()), items->end());
}

}  // namespace

TopicTrie::TopicTrie(const BindingList& bindings) {
  nodes_.emplace_back();
  for (const Binding& binding : bindings) {
    NodeIndex node = kRoot;
    for (std::string_view word : SplitWords(binding.key)) {
      node = ChildForBinding(node, word);
    }
    nodes_[node].destinations.push_back(binding.destination);
  }
  for (Node& node : nodes_) SortUnique(&node.destinations);
}

TopicTrie::NodeIndex TopicTrie::ChildForBinding(NodeIndex parent,
                                                std::string_view word) {
  const auto next_index = static_cast<NodeIndex>(nodes_.size());
  NodeIndex* slot;
  if (word == kOneWord) {
    slot = &nodes_[parent].star_child;
  } else if (word == kAnyWords) {
    slot = &nodes_[parent].hash_child;
  } else {
    slot = &nodes_[parent]
                .literal_children.try_emplace(ToAbsl(word), kNoNode)
                .first->second;
  }
  if (*slot != kNoNode) return *slot;
  // Before the emplace, which may move nodes_ and with it what `slot` points
  // to.
  *slot = next_index;
  nodes_.emplace_back();
  nodes_.back().absorbs_words = word == kAnyWords;
  return next_index;
}

void TopicTrie::AddWithZeroWordHashes(NodeIndex node, NodeSet* alive) const {
  for (; node != kNoNode; node = nodes_[node].hash_child) {
    alive->push_back(node);
  }
}

void TopicTrie::Route(std::string_view routing_key,
                      const FieldTable* /*headers*/,
                      std::vector<DestinationId>* out) const {
  NodeSet alive;
  NodeSet next;
  AddWithZeroWordHashes(kRoot, &alive);
  for (std::string_view word : SplitWords(routing_key)) {
    next.clear();
    for (NodeIndex index : alive) {
      const Node& node = nodes_[index];
      if (node.absorbs_words) AddWithZeroWordHashes(index, &next);
      if (auto it = node.literal_children.find(ToAbsl(word));
          it != node.literal_children.end()) {
        AddWithZeroWordHashes(it->second, &next);
      }
      AddWithZeroWordHashes(node.star_child, &next);
    }
    if (next.empty()) return;
    // Different paths (say "a.*" and "a.#") can reach one node; keeping it
    // once keeps the set, and the work per word, bounded by the trie's size.
    SortUnique(&next);
    std::swap(alive, next);
  }
  for (NodeIndex index : alive) {
    const std::vector<DestinationId>& destinations = nodes_[index].destinations;
    out->insert(out->end(), destinations.begin(), destinations.end());
  }
}

}  // namespace warren::routing
