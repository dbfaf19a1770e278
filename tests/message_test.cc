// tests/message_test.cc: immutable shared messages (lib/message.cc).

#include "warren/message.h"

#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace warren {
namespace {

TEST(Message, DefaultHasEmptyBodyAndNoProperties) {
  Message message;
  EXPECT_EQ(message.body(), "");
  EXPECT_EQ(message.properties(), BasicProperties{});
}

TEST(Message, DefaultMessagesShareOneBodyAndProperties) {
  Message a;
  Message b;
  EXPECT_TRUE(a.SharesBodyWith(b));
  EXPECT_EQ(&a.properties(), &b.properties());
}

TEST(Message, KeepsBodyAndProperties) {
  BasicProperties properties;
  properties.content_type = "application/json";
  properties.headers = FieldTable{{"k", 1}};
  properties.delivery_mode = 2;
  Message message(R"({"id":42})", properties);
  EXPECT_EQ(message.body(), R"({"id":42})");
  EXPECT_EQ(message.properties(), properties);
}

TEST(Message, KeepsBodyWithEmbeddedNul) {
  const std::string body("a\0b", 3);
  EXPECT_EQ(Message(body).body(), body);
}

TEST(Message, CopiesShareTheBody) {
  Message original("payload");
  Message copy = original;
  EXPECT_TRUE(copy.SharesBodyWith(original));
  EXPECT_EQ(copy.body().data(), original.body().data());
}

TEST(Message, SeparatelyBuiltMessagesDoNotShareBodies) {
  Message a("same");
  Message b("same");
  EXPECT_FALSE(a.SharesBodyWith(b));
}

TEST(Message, WithPropertiesSharesBodyAndReplacesProperties) {
  BasicProperties original_properties;
  original_properties.message_id = "m1";
  Message original("payload", original_properties);

  BasicProperties new_properties;
  new_properties.correlation_id = "c1";
  Message changed = original.WithProperties(new_properties);

  EXPECT_TRUE(changed.SharesBodyWith(original));
  EXPECT_EQ(changed.properties(), new_properties);
  EXPECT_EQ(original.properties(), original_properties);
}

TEST(Message, WithPropertiesCanClearProperties) {
  BasicProperties properties;
  properties.priority = 5;
  Message changed = Message("payload", properties).WithProperties({});
  EXPECT_EQ(changed.properties(), BasicProperties{});
}

TEST(BasicProperties, EmptyStringDiffersFromUnset) {
  BasicProperties empty_type;
  empty_type.content_type = "";
  EXPECT_NE(empty_type, BasicProperties{});
  EXPECT_NE(Message("x", empty_type).properties(), Message("x").properties());
}

TEST(BasicProperties, ZeroDiffersFromUnset) {
  BasicProperties zero_priority;
  zero_priority.priority = 0;
  EXPECT_NE(Message("x", zero_priority).properties(), BasicProperties{});
}

}  // namespace
}  // namespace warren
