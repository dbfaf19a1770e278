// amqp/codec: warren's values to and from rabbitmq-c's wire structures —
// field tables (amqp_table_t, every amqp_field_value_t kind), basic
// properties (amqp_basic_properties_t) and byte strings.
//
// Owns only conversions. Encoding borrows: the structures it fills point into
// the warren values, into `pool` and into the Encoder, so all three must
// outlive the send they are built for. Decoding copies, so the result
// outlives rabbitmq-c's buffers.
#ifndef WARREN_LIB_AMQP_CODEC_H_
#define WARREN_LIB_AMQP_CODEC_H_

#include <amqp.h>

#include <cstddef>
#include <new>
#include <string>
#include <string_view>

#include "warren/field_table.h"
#include "warren/message.h"

namespace warren::amqp {

// A view of `s` as rabbitmq-c bytes; valid while `s` is.
inline amqp_bytes_t Bytes(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

inline std::string String(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

// Builds rabbitmq-c structures: a method struct kept in the Encoder itself,
// and the tables and arrays it points to, from one pool.
//
// The pool allocates with malloc, which can fail, and no exception may leave
// the I/O thread that encodes. A table or array the pool cannot hold is left
// empty and the Encoder remembers it (out_of_memory()): what it built is then
// incomplete and must not be sent; Link fails the send as it fails one that
// rabbitmq-c cannot allocate for (AMQP_STATUS_NO_MEMORY). New needs no pool,
// so a builder never gets a null struct to fill.
class Encoder {
 public:
  explicit Encoder(amqp_pool_t* pool) : pool_(pool) {}
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // A zeroed method struct T in the Encoder's storage, which holds one at a
  // time (a send builds one method).
  template <typename T>
  T* New() {
    static_assert(sizeof(T) <= kMethodCapacity && alignof(T) <= alignof(std::max_align_t));
    return new (method_) T{};
  }

  amqp_table_t Table(const FieldTable& table);
  amqp_basic_properties_t Properties(const BasicProperties& properties);

  // True once the pool failed an allocation for this Encoder.
  bool out_of_memory() const { return out_of_memory_; }
  // `method` as built with this Encoder, or null when it is incomplete
  // (out_of_memory()): Link::SendMethod sends nothing for null.
  void* Sendable(void* method) const { return out_of_memory_ ? nullptr : method; }

 private:
  // The largest method struct sent, exchange.declare, takes 80 bytes on a
  // 64-bit machine.
  static constexpr size_t kMethodCapacity = 128;

  // Zeroed memory from the pool; null (and out_of_memory()) when it is out.
  void* Allocate(size_t size);
  amqp_field_value_t Value(const FieldValue& value);

  amqp_pool_t* const pool_;
  bool out_of_memory_ = false;
  alignas(std::max_align_t) std::byte method_[kMethodCapacity];
};

FieldTable DecodeTable(const amqp_table_t& table);
BasicProperties DecodeProperties(const amqp_basic_properties_t& properties);

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_CODEC_H_
