// lib/routing/binding_list.h: the bindings of one exchange, in the order they
// were made, in immutable chunks that copies of the list share.
//
// Owns only the list's storage. Must not touch what a binding means (the
// routers do) or which bindings are equal (the broker's binding index does).
//
// Why chunks: every topology change hands publishers a new routing snapshot,
// and each snapshot keeps the bindings its routers are built from. A copy of
// a BindingList copies one pointer a chunk; appending copies at most one
// chunk. So a change costs O(n / kChunk + kChunk), not O(n), and binding
// 100,000 keys one by one stays fast.
//
// Example:
//
//   BindingList bindings;
//   bindings.Append({.destination = 7, .key = "orders.*"});
//   BindingList kept = bindings;  // shares the chunk
//   bindings.RemoveIf([](const Binding& b) { return b.destination == 7; });
//   // kept.size() == 1, bindings.empty()
//
// Thread-safety: a const BindingList may be read by any number of threads;
// changing one needs exclusive access to that object only, never to its
// copies.
#ifndef WARREN_LIB_ROUTING_BINDING_LIST_H_
#define WARREN_LIB_ROUTING_BINDING_LIST_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "warren/field_table.h"

namespace warren::routing {

// An opaque id the broker assigns to a queue or an exchange.
using DestinationId = uint32_t;

struct Binding {
  DestinationId destination = 0;
  // The binding key; ignored by fanout and headers exchanges.
  std::string key{};
  // The binding arguments; only the headers exchange reads them.
  FieldTable arguments{};
};

class BindingList {
 private:
  using Chunk = std::vector<Binding>;
  using Chunks = std::vector<std::shared_ptr<const Chunk>>;

 public:
  // Visits every binding, chunk by chunk, in order.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Binding;
    using difference_type = std::ptrdiff_t;
    using pointer = const Binding*;
    using reference = const Binding&;

    const_iterator() = default;
    reference operator*() const { return (**chunk_)[index_]; }
    pointer operator->() const { return &**this; }
    const_iterator& operator++() {
      if (++index_ == (*chunk_)->size()) {
        ++chunk_;
        index_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.chunk_ == b.chunk_ && a.index_ == b.index_;
    }

   private:
    friend class BindingList;
    explicit const_iterator(Chunks::const_iterator chunk) : chunk_(chunk) {}
    Chunks::const_iterator chunk_{};
    size_t index_ = 0;
  };

  BindingList() = default;
  // Implicit, so that a plain list of bindings (in tests, benchmarks) is one.
  BindingList(std::initializer_list<Binding> bindings);
  BindingList(const std::vector<Binding>& bindings);  // NOLINT(google-explicit-constructor)

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return const_iterator(chunks_.begin()); }
  const_iterator end() const { return const_iterator(chunks_.end()); }

  void Append(Binding binding);

  // Removes every binding `matches` accepts, keeping the others' order;
  // returns how many it removed. Chunks without a match stay shared.
  template <typename Predicate>
  size_t RemoveIf(Predicate matches);

 private:
  // Chunks are never empty, so that iteration needs no skipping.
  static constexpr size_t kChunk = 64;

  Chunks chunks_;
  size_t size_ = 0;
};

template <typename Predicate>
size_t BindingList::RemoveIf(Predicate matches) {
  size_t removed = 0;
  Chunks kept;
  kept.reserve(chunks_.size());
  for (std::shared_ptr<const Chunk>& chunk : chunks_) {
    size_t first = 0;
    while (first < chunk->size() && !matches((*chunk)[first])) ++first;
    if (first == chunk->size()) {
      kept.push_back(std::move(chunk));
      continue;
    }
    auto rest = std::make_shared<Chunk>(chunk->begin(), chunk->begin() + first);
    for (size_t i = first; i < chunk->size(); ++i) {
      if (matches((*chunk)[i])) {
        ++removed;
      } else {
        rest->push_back((*chunk)[i]);
      }
    }
    if (!rest->empty()) kept.push_back(std::move(rest));
  }
  chunks_ = std::move(kept);
  size_ -= removed;
  return removed;
}

}  // namespace warren::routing

#endif  // WARREN_LIB_ROUTING_BINDING_LIST_H_
