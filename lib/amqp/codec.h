// amqp/codec: warren's values to and from rabbitmq-c's wire structures —
// field tables (amqp_table_t, every amqp_field_value_t kind), basic
// properties (amqp_basic_properties_t) and byte strings.
//
// Owns only conversions. Encoding borrows: the structures it fills point into
// the warren values and into `pool`, so both must outlive the send they are
// built for. Decoding copies, so the result outlives rabbitmq-c's buffers.
#ifndef WARREN_LIB_AMQP_CODEC_H_
#define WARREN_LIB_AMQP_CODEC_H_

#include <amqp.h>

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

// Builds rabbitmq-c structures whose memory comes from one pool.
class Encoder {
 public:
  explicit Encoder(amqp_pool_t* pool) : pool_(pool) {}

  // A zeroed T from the pool.
  template <typename T>
  T* New() {
    return static_cast<T*>(Allocate(sizeof(T)));
  }

  amqp_table_t Table(const FieldTable& table);
  amqp_basic_properties_t Properties(const BasicProperties& properties);

 private:
  void* Allocate(size_t size);
  amqp_field_value_t Value(const FieldValue& value);

  amqp_pool_t* const pool_;
};

FieldTable DecodeTable(const amqp_table_t& table);
BasicProperties DecodeProperties(const amqp_basic_properties_t& properties);

}  // namespace warren::amqp

#endif  // WARREN_LIB_AMQP_CODEC_H_
