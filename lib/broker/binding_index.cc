// BindingIndex and the order-insensitive hash of argument tables.
#include "broker/binding_index.h"

#include <type_traits>
#include <variant>

#include "absl/hash/hash.h"

namespace warren::broker {
namespace {

size_t HashOfValue(const FieldValue& value) {
  // The alternative's index is part of the hash, since values of different
  // AMQP types are never equal.
  const size_t type = value.variant().index();
  return std::visit(
      [type](const auto& v) -> size_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, FieldTable>) {
          return absl::Hash<std::pair<size_t, size_t>>{}({type, HashOfFieldTable(v)});
        } else if constexpr (std::is_same_v<T, FieldArray>) {
          size_t h = absl::Hash<size_t>{}(type);
          for (const FieldValue& element : v) {
            h = absl::Hash<std::pair<size_t, size_t>>{}({h, HashOfValue(element)});
          }
          return h;
        } else if constexpr (std::is_same_v<T, Decimal>) {
          return absl::Hash<std::tuple<size_t, uint8_t, uint32_t>>{}({type, v.scale, v.unscaled});
        } else if constexpr (std::is_same_v<T, Timestamp>) {
          return absl::Hash<std::pair<size_t, uint64_t>>{}({type, v.seconds});
        } else if constexpr (std::is_same_v<T, ByteArray>) {
          return absl::Hash<std::pair<size_t, std::string>>{}({type, v.bytes});
        } else if constexpr (std::is_same_v<T, Void>) {
          return absl::Hash<size_t>{}(type);
        } else {
          // Integers, bools, strings; floats hash +0.0 and -0.0 alike.
          return absl::Hash<std::pair<size_t, T>>{}({type, v});
        }
      },
      value.variant());
}

}  // namespace

size_t HashOfFieldTable(const FieldTable& table) {
  // A sum does not depend on the order of the entries.
  size_t sum = 0;
  for (const auto& [key, value] : table) {
    sum += absl::Hash<std::pair<std::string_view, size_t>>{}({key, HashOfValue(value)});
  }
  return sum;
}

BindingIndex::Key BindingIndex::KeyOf(routing::DestinationId destination, std::string_view key,
                                      const FieldTable& arguments) {
  return {destination, std::string(key), HashOfFieldTable(arguments)};
}

bool BindingIndex::MayContain(routing::DestinationId destination, std::string_view key,
                              const FieldTable& arguments) const {
  return counts_.contains(KeyOf(destination, key, arguments));
}

void BindingIndex::Add(routing::DestinationId destination, std::string_view key,
                       const FieldTable& arguments) {
  ++counts_[KeyOf(destination, key, arguments)];
}

void BindingIndex::Remove(routing::DestinationId destination, std::string_view key,
                          const FieldTable& arguments) {
  auto it = counts_.find(KeyOf(destination, key, arguments));
  if (it != counts_.end() && --it->second == 0) counts_.erase(it);
}

void BindingIndex::RemoveDestination(routing::DestinationId destination) {
  absl::erase_if(counts_, [destination](const auto& entry) {
    return std::get<0>(entry.first) == destination;
  });
}

}  // namespace warren::broker
