// amqp/codec: the AMQP type tags map one for one onto FieldValue's
// alternatives (RabbitMQ's table codec uses the same tags as rabbitmq-c).
#include "amqp/codec.h"

#include <cstring>
#include <type_traits>
#include <utility>
#include <variant>

namespace warren::amqp {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

FieldValue DecodeValue(const amqp_field_value_t& v);

FieldArray DecodeArray(const amqp_array_t& array) {
  FieldArray out;
  out.reserve(static_cast<size_t>(array.num_entries));
  for (int i = 0; i < array.num_entries; ++i) out.push_back(DecodeValue(array.entries[i]));
  return out;
}

FieldValue DecodeValue(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_BOOLEAN: return v.value.boolean != 0;
    case AMQP_FIELD_KIND_I8: return v.value.i8;
    case AMQP_FIELD_KIND_U8: return v.value.u8;
    case AMQP_FIELD_KIND_I16: return v.value.i16;
    case AMQP_FIELD_KIND_U16: return v.value.u16;
    case AMQP_FIELD_KIND_I32: return v.value.i32;
    case AMQP_FIELD_KIND_U32: return v.value.u32;
    case AMQP_FIELD_KIND_I64: return v.value.i64;
    // RabbitMQ never sends 'L'; FieldValue has no unsigned 64-bit type.
    case AMQP_FIELD_KIND_U64: return static_cast<int64_t>(v.value.u64);
    case AMQP_FIELD_KIND_F32: return v.value.f32;
    case AMQP_FIELD_KIND_F64: return v.value.f64;
    case AMQP_FIELD_KIND_DECIMAL:
      return Decimal{v.value.decimal.decimals, v.value.decimal.value};
    case AMQP_FIELD_KIND_UTF8: return String(v.value.bytes);
    case AMQP_FIELD_KIND_BYTES: return ByteArray{String(v.value.bytes)};
    case AMQP_FIELD_KIND_TIMESTAMP: return Timestamp{v.value.u64};
    case AMQP_FIELD_KIND_ARRAY: return DecodeArray(v.value.array);
    case AMQP_FIELD_KIND_TABLE: return DecodeTable(v.value.table);
    default: return Void{};
  }
}

}  // namespace

void* Encoder::Allocate(size_t size) {
  void* p = amqp_pool_alloc(pool_, size);
  if (p == nullptr) {
    out_of_memory_ = true;
    return nullptr;
  }
  std::memset(p, 0, size);
  return p;
}

amqp_field_value_t Encoder::Value(const FieldValue& value) {
  amqp_field_value_t out{};
  std::visit(
      Overloaded{
          [&](bool b) { out.kind = AMQP_FIELD_KIND_BOOLEAN; out.value.boolean = b; },
          [&](int8_t n) { out.kind = AMQP_FIELD_KIND_I8; out.value.i8 = n; },
          [&](uint8_t n) { out.kind = AMQP_FIELD_KIND_U8; out.value.u8 = n; },
          [&](int16_t n) { out.kind = AMQP_FIELD_KIND_I16; out.value.i16 = n; },
          [&](uint16_t n) { out.kind = AMQP_FIELD_KIND_U16; out.value.u16 = n; },
          [&](int32_t n) { out.kind = AMQP_FIELD_KIND_I32; out.value.i32 = n; },
          [&](uint32_t n) { out.kind = AMQP_FIELD_KIND_U32; out.value.u32 = n; },
          [&](int64_t n) { out.kind = AMQP_FIELD_KIND_I64; out.value.i64 = n; },
          [&](float f) { out.kind = AMQP_FIELD_KIND_F32; out.value.f32 = f; },
          [&](double d) { out.kind = AMQP_FIELD_KIND_F64; out.value.f64 = d; },
          [&](const Decimal& d) {
            out.kind = AMQP_FIELD_KIND_DECIMAL;
            out.value.decimal = amqp_decimal_t{d.scale, d.unscaled};
          },
          [&](const std::string& s) { out.kind = AMQP_FIELD_KIND_UTF8; out.value.bytes = Bytes(s); },
          [&](const ByteArray& b) {
            out.kind = AMQP_FIELD_KIND_BYTES;
            out.value.bytes = Bytes(b.bytes);
          },
          [&](const Timestamp& t) { out.kind = AMQP_FIELD_KIND_TIMESTAMP; out.value.u64 = t.seconds; },
          [&](const FieldArray& array) {
            out.kind = AMQP_FIELD_KIND_ARRAY;
            if (array.empty()) return;
            auto* entries = static_cast<amqp_field_value_t*>(
                Allocate(sizeof(amqp_field_value_t) * array.size()));
            if (entries == nullptr) return;  // left empty: out_of_memory()
            out.value.array.num_entries = static_cast<int>(array.size());
            out.value.array.entries = entries;
            for (size_t i = 0; i < array.size(); ++i) entries[i] = Value(array[i]);
          },
          [&](const FieldTable& table) {
            out.kind = AMQP_FIELD_KIND_TABLE;
            out.value.table = Table(table);
          },
          [&](const Void&) { out.kind = AMQP_FIELD_KIND_VOID; },
      },
      value.variant());
  return out;
}

amqp_table_t Encoder::Table(const FieldTable& table) {
  amqp_table_t out{};
  if (table.empty()) return out;
  auto* entries =
      static_cast<amqp_table_entry_t*>(Allocate(sizeof(amqp_table_entry_t) * table.size()));
  if (entries == nullptr) return out;  // left empty: out_of_memory()
  out.num_entries = static_cast<int>(table.size());
  out.entries = entries;
  int i = 0;
  for (const auto& [key, value] : table) {
    out.entries[i].key = Bytes(key);
    out.entries[i].value = Value(value);
    ++i;
  }
  return out;
}

amqp_basic_properties_t Encoder::Properties(const BasicProperties& p) {
  amqp_basic_properties_t out{};
  auto set_bytes = [&](const std::optional<std::string>& from, amqp_bytes_t* to,
                       amqp_flags_t flag) {
    if (!from) return;
    *to = Bytes(*from);
    out._flags |= flag;
  };
  set_bytes(p.content_type, &out.content_type, AMQP_BASIC_CONTENT_TYPE_FLAG);
  set_bytes(p.content_encoding, &out.content_encoding, AMQP_BASIC_CONTENT_ENCODING_FLAG);
  if (p.headers) {
    out.headers = Table(*p.headers);
    out._flags |= AMQP_BASIC_HEADERS_FLAG;
  }
  if (p.delivery_mode) {
    out.delivery_mode = *p.delivery_mode;
    out._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
  }
  if (p.priority) {
    out.priority = *p.priority;
    out._flags |= AMQP_BASIC_PRIORITY_FLAG;
  }
  set_bytes(p.correlation_id, &out.correlation_id, AMQP_BASIC_CORRELATION_ID_FLAG);
  set_bytes(p.reply_to, &out.reply_to, AMQP_BASIC_REPLY_TO_FLAG);
  set_bytes(p.expiration, &out.expiration, AMQP_BASIC_EXPIRATION_FLAG);
  set_bytes(p.message_id, &out.message_id, AMQP_BASIC_MESSAGE_ID_FLAG);
  if (p.timestamp) {
    out.timestamp = p.timestamp->seconds;
    out._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
  }
  set_bytes(p.type, &out.type, AMQP_BASIC_TYPE_FLAG);
  set_bytes(p.user_id, &out.user_id, AMQP_BASIC_USER_ID_FLAG);
  set_bytes(p.app_id, &out.app_id, AMQP_BASIC_APP_ID_FLAG);
  return out;
}

FieldTable DecodeTable(const amqp_table_t& table) {
  FieldTable out;
  for (int i = 0; i < table.num_entries; ++i) {
    out.Set(String(table.entries[i].key), DecodeValue(table.entries[i].value));
  }
  return out;
}

BasicProperties DecodeProperties(const amqp_basic_properties_t& p) {
  BasicProperties out;
  auto get_bytes = [&](amqp_bytes_t from, amqp_flags_t flag, std::optional<std::string>* to) {
    if (p._flags & flag) *to = String(from);
  };
  get_bytes(p.content_type, AMQP_BASIC_CONTENT_TYPE_FLAG, &out.content_type);
  get_bytes(p.content_encoding, AMQP_BASIC_CONTENT_ENCODING_FLAG, &out.content_encoding);
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) out.headers = DecodeTable(p.headers);
  if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) out.delivery_mode = p.delivery_mode;
  if (p._flags & AMQP_BASIC_PRIORITY_FLAG) out.priority = p.priority;
  get_bytes(p.correlation_id, AMQP_BASIC_CORRELATION_ID_FLAG, &out.correlation_id);
  get_bytes(p.reply_to, AMQP_BASIC_REPLY_TO_FLAG, &out.reply_to);
  get_bytes(p.expiration, AMQP_BASIC_EXPIRATION_FLAG, &out.expiration);
  get_bytes(p.message_id, AMQP_BASIC_MESSAGE_ID_FLAG, &out.message_id);
  if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) out.timestamp = Timestamp{p.timestamp};
  get_bytes(p.type, AMQP_BASIC_TYPE_FLAG, &out.type);
  get_bytes(p.user_id, AMQP_BASIC_USER_ID_FLAG, &out.user_id);
  get_bytes(p.app_id, AMQP_BASIC_APP_ID_FLAG, &out.app_id);
  return out;
}

}  // namespace warren::amqp
