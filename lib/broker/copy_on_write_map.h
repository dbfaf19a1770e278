// lib/broker/copy_on_write_map.h: a hash map whose copies share what they
// have not changed, for the routing snapshot's lookups by name and by id.
//
// Owns only the map's storage: 64 immutable shards. A copy costs 64 pointer
// copies; a change copies the one shard it touches, about 1/64 of the map.
// So the virtual host can hand publishers a new snapshot on every topology
// change without copying every queue and exchange each time. Must not know
// what it maps.
//
// Example:
//
//   CopyOnWriteMap<std::string, int> by_name;
//   by_name.Set("orders", 1);
//   CopyOnWriteMap<std::string, int> next = by_name;  // shares the shards
//   next.Set("billing", 2);
//   by_name.Find(ToAbsl("billing"));  // nullptr: the copy changed alone
//
// Keys are std::string (looked up by absl::string_view) or
// routing::DestinationId (looked up by itself; ids are dense, so their low
// bits pick the shard).
//
// Thread-safety: a const map may be read by any number of threads; changing
// one needs exclusive access to that object only, never to its copies.
#ifndef WARREN_LIB_BROKER_COPY_ON_WRITE_MAP_H_
#define WARREN_LIB_BROKER_COPY_ON_WRITE_MAP_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace warren::broker {

template <typename Key, typename Value>
class CopyOnWriteMap {
 public:
  // The value of `key`, or nullptr.
  template <typename Lookup>
  const Value* Find(const Lookup& key) const {
    const std::shared_ptr<const Shard>& shard = shards_[ShardOf(key)];
    if (shard == nullptr) return nullptr;
    auto it = shard->find(key);
    return it == shard->end() ? nullptr : &it->second;
  }

  void Set(const Key& key, Value value) {
    Shard& shard = CopyOfShard(ShardOf(key));
    shard.insert_or_assign(key, std::move(value));
  }

  void Erase(const Key& key) {
    const size_t index = ShardOf(key);
    if (shards_[index] == nullptr || !shards_[index]->contains(key)) return;
    CopyOfShard(index).erase(key);
  }

 private:
  using Shard = absl::flat_hash_map<Key, Value>;
  static constexpr size_t kShardBits = 6;
  static_assert(sizeof(size_t) == 8, "a shard is picked by the top bits of a 64-bit hash");

  static size_t ShardOf(absl::string_view key) {
    return absl::Hash<absl::string_view>{}(key) >> (64 - kShardBits);
  }
  static size_t ShardOf(uint32_t id) { return id & ((size_t{1} << kShardBits) - 1); }

  // Replaces shard `index` by a copy this map alone holds.
  Shard& CopyOfShard(size_t index) {
    auto copy = shards_[index] ? std::make_shared<Shard>(*shards_[index])
                               : std::make_shared<Shard>();
    Shard& shard = *copy;
    shards_[index] = std::move(copy);
    return shard;
  }

  std::array<std::shared_ptr<const Shard>, size_t{1} << kShardBits> shards_;
};

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_COPY_ON_WRITE_MAP_H_
