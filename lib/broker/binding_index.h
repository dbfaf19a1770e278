// lib/broker/binding_index.h: which bindings an exchange may already hold,
// so that binding and unbinding take constant time however many bindings
// it has (binding 100,000 keys is linear, not quadratic).
//
// Owns: a count of bindings per (destination, key, hash of the arguments).
// Must not touch: the bindings themselves, which stay in the exchange's list
// (in the order they were made), or their validation and routing.
//
// Example:
//
//   BindingIndex index;
//   if (!index.MayContain(q, "k", args)) {  // certainly new: no scan
//     bindings.push_back({q, "k", args});
//     index.Add(q, "k", args);
//   }
//
// Thread-safety: none; the virtual host calls it under its lock.
#ifndef WARREN_LIB_BROKER_BINDING_INDEX_H_
#define WARREN_LIB_BROKER_BINDING_INDEX_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "routing/router.h"
#include "warren/field_table.h"

namespace warren::broker {

class BindingIndex {
 public:
  // False when no binding of (destination, key, arguments) was added; true
  // when one may have been, which the caller confirms against its list (two
  // different argument tables may share a hash).
  bool MayContain(routing::DestinationId destination, std::string_view key,
                  const FieldTable& arguments) const;
  void Add(routing::DestinationId destination, std::string_view key, const FieldTable& arguments);
  // Forgets one binding that was added.
  void Remove(routing::DestinationId destination, std::string_view key,
              const FieldTable& arguments);
  // Forgets every binding to `destination`.
  void RemoveDestination(routing::DestinationId destination);

 private:
  using Key = std::tuple<routing::DestinationId, std::string, size_t>;
  static Key KeyOf(routing::DestinationId destination, std::string_view key,
                   const FieldTable& arguments);

  absl::flat_hash_map<Key, int> counts_;
};

// A hash of `table` that equal tables share: it ignores the order of the
// entries, as FieldTable's operator== does, and +0.0 and -0.0 hash alike.
size_t HashOfFieldTable(const FieldTable& table);

}  // namespace warren::broker

#endif  // WARREN_LIB_BROKER_BINDING_INDEX_H_
