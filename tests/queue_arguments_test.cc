// tests/queue_arguments_test.cc: the x- arguments of queue.declare
// (lib/queue/queue_arguments.*): which values RabbitMQ 3.10's
// rabbit_amqqueue:declare_args() accepts or refuses with 406, what they parse
// to, and which differences a redeclare refuses.
#include "queue/queue_arguments.h"

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "warren/field_table.h"
#include "warren/status.h"

namespace warren::queue {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<QueueArguments> Parse(const FieldTable& arguments) {
  return ParseQueueArguments(arguments, "orders", "/");
}

// The reply code of parsing a table holding only `key` = `value`.
ReplyCode CodeOf(std::string key, FieldValue value) {
  FieldTable arguments;
  arguments.Set(key, std::move(value));
  return ReplyCodeOf(Parse(arguments).status());
}

absl::Status Equivalent(const FieldTable& existing, const FieldTable& requested) {
  return CheckEquivalentArguments(existing, requested, "orders", "/");
}

TEST(QueueArguments, NoArgumentsGiveAPlainFifoQueue) {
  absl::StatusOr<QueueArguments> parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->message_ttl.has_value());
  EXPECT_FALSE(parsed->expires.has_value());
  EXPECT_FALSE(parsed->max_length.has_value());
  EXPECT_FALSE(parsed->max_length_bytes.has_value());
  EXPECT_EQ(parsed->overflow, Overflow::kDropHead);
  EXPECT_FALSE(parsed->dead_letter_exchange.has_value());
  EXPECT_EQ(parsed->max_priority, 0);
  EXPECT_FALSE(parsed->single_active_consumer);
  EXPECT_FALSE(parsed->quorum);
}

TEST(QueueArguments, ParsesEveryArgumentItKnows) {
  absl::StatusOr<QueueArguments> parsed = Parse({{"x-message-ttl", int32_t{1500}},
                                                 {"x-expires", int64_t{60000}},
                                                 {"x-max-length", int16_t{10}},
                                                 {"x-max-length-bytes", uint32_t{4096}},
                                                 {"x-overflow", "reject-publish-dlx"},
                                                 {"x-dead-letter-exchange", "dlx"},
                                                 {"x-dead-letter-routing-key", "dead"},
                                                 {"x-max-priority", uint8_t{9}},
                                                 {"x-single-active-consumer", true}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->message_ttl, absl::Milliseconds(1500));
  EXPECT_EQ(parsed->expires, absl::Seconds(60));
  EXPECT_EQ(parsed->max_length, 10);
  EXPECT_EQ(parsed->max_length_bytes, 4096);
  EXPECT_EQ(parsed->overflow, Overflow::kRejectPublishDlx);
  EXPECT_EQ(parsed->dead_letter_exchange, "dlx");
  EXPECT_EQ(parsed->dead_letter_routing_key, "dead");
  EXPECT_EQ(parsed->max_priority, 9);
  EXPECT_TRUE(parsed->single_active_consumer);
  EXPECT_FALSE(parsed->quorum);
  absl::StatusOr<QueueArguments> quorum =
      Parse({{"x-queue-type", "quorum"}, {"x-delivery-limit", int32_t{3}}});
  ASSERT_TRUE(quorum.ok()) << quorum.status();
  EXPECT_TRUE(quorum->quorum);
  EXPECT_EQ(quorum->delivery_limit, 3);
}

// Recorded: bad_input__delivery_limit_of_the_wrong_type.
TEST(QueueArguments, QuorumDeliveryLimitTakesAnyValue) {
  absl::StatusOr<QueueArguments> negative =
      Parse({{"x-queue-type", "quorum"}, {"x-delivery-limit", int32_t{-1}}});
  ASSERT_TRUE(negative.ok()) << negative.status();
  EXPECT_EQ(negative->delivery_limit, -1);
  absl::StatusOr<QueueArguments> text =
      Parse({{"x-queue-type", "quorum"}, {"x-delivery-limit", "1"}});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_FALSE(text->delivery_limit.has_value());
}

// Recorded: bad_input__queue_length_arguments_of_the_wrong_type,
// bad_input__quorum_queue_flags.
TEST(QueueArguments, ArgumentsOfAnotherQueueTypeAreRefused) {
  absl::Status classic = Parse({{"x-delivery-limit", int32_t{3}}}).status();
  EXPECT_EQ(ReplyCodeOf(classic), ReplyCode::kPreconditionFailed);
  EXPECT_THAT(std::string(classic.message()),
              HasSubstr("invalid arg 'x-delivery-limit' for queue 'orders' in vhost '/' of "
                        "queue type rabbit_classic_queue"));
  for (const char* key : {"x-max-priority", "x-queue-mode", "x-queue-version"}) {
    FieldTable arguments{{"x-queue-type", "quorum"}};
    arguments.Set(key, key == std::string("x-queue-mode") ? FieldValue("lazy") : int32_t{2});
    EXPECT_EQ(ReplyCodeOf(Parse(arguments).status()), ReplyCode::kPreconditionFailed) << key;
  }
  EXPECT_TRUE(Parse({{"x-queue-type", "quorum"}, {"x-max-in-memory-length", int32_t{5}}}).ok());
}

TEST(QueueArguments, IntegerArgumentsTakeEveryIntegerWidth) {
  for (FieldValue v : {FieldValue(int8_t{5}), FieldValue(uint8_t{5}), FieldValue(int16_t{5}),
                       FieldValue(uint16_t{5}), FieldValue(int32_t{5}), FieldValue(uint32_t{5}),
                       FieldValue(int64_t{5})}) {
    absl::StatusOr<QueueArguments> parsed = Parse({{"x-max-length", v}});
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->max_length, 5);
  }
}

TEST(QueueArguments, IntegerArgumentsRefuseOtherTypes) {
  for (const char* key : {"x-message-ttl", "x-expires", "x-max-length", "x-max-length-bytes",
                          "x-max-priority"}) {
    EXPECT_EQ(CodeOf(key, "10"), ReplyCode::kPreconditionFailed) << key;
    EXPECT_EQ(CodeOf(key, true), ReplyCode::kPreconditionFailed) << key;
    EXPECT_EQ(CodeOf(key, 10.0), ReplyCode::kPreconditionFailed) << key;
    EXPECT_EQ(CodeOf(key, Timestamp{10}), ReplyCode::kPreconditionFailed) << key;
  }
}

TEST(QueueArguments, NegativeIntegersAreRefused) {
  for (const char* key : {"x-message-ttl", "x-expires", "x-max-length", "x-max-length-bytes",
                          "x-max-priority"}) {
    EXPECT_EQ(CodeOf(key, int32_t{-1}), ReplyCode::kPreconditionFailed) << key;
  }
}

TEST(QueueArguments, ErrorNamesArgumentQueueAndVhost) {
  absl::Status s = Parse({{"x-max-length", int32_t{-1}}}).status();
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'x-max-length'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'orders'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("vhost '/'"));
}

TEST(QueueArguments, ZeroMessageTtlIsAllowed) {
  absl::StatusOr<QueueArguments> parsed = Parse({{"x-message-ttl", int32_t{0}}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->message_ttl, absl::ZeroDuration());
}

TEST(QueueArguments, ZeroExpiresIsRefused) {
  EXPECT_EQ(CodeOf("x-expires", int32_t{0}), ReplyCode::kPreconditionFailed);
  EXPECT_EQ(CodeOf("x-expires", int32_t{1}), ReplyCode::kNone);
}

TEST(QueueArguments, ZeroMaxLengthIsAllowed) {
  absl::StatusOr<QueueArguments> parsed =
      Parse({{"x-max-length", int32_t{0}}, {"x-max-length-bytes", int32_t{0}}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->max_length, 0);
  EXPECT_EQ(parsed->max_length_bytes, 0);
}

// Recorded: bad_input__ttl_limits (RabbitMQ 3.10.8 caps them at ten years).
TEST(QueueArguments, ExpiryAboveTenYearsIsRefused) {
  EXPECT_EQ(CodeOf("x-message-ttl", int64_t{4294967296}), ReplyCode::kNone);
  EXPECT_EQ(CodeOf("x-message-ttl", int64_t{315360000000}), ReplyCode::kNone);
  EXPECT_EQ(CodeOf("x-message-ttl", int64_t{315360000001}), ReplyCode::kPreconditionFailed);
  EXPECT_EQ(CodeOf("x-expires", int64_t{315360000000}), ReplyCode::kNone);
  EXPECT_EQ(CodeOf("x-expires", int64_t{315360000001}), ReplyCode::kPreconditionFailed);
}

TEST(QueueArguments, ExpirationIsParsedAsRabbitMqReadsIt) {
  EXPECT_EQ(ParseExpiration("60000"), 60000);
  EXPECT_EQ(ParseExpiration("+5"), 5);
  EXPECT_EQ(ParseExpiration("-0"), 0);
  EXPECT_EQ(ParseExpiration("05"), 5);
  EXPECT_EQ(ParseExpiration("315360000000"), 315360000000);
  for (const char* refused : {"", "+", "-1", " 5", "5 ", "1.5", "0x10", "1e3", "abc",
                              "315360000001", "99999999999999999999"}) {
    EXPECT_EQ(ParseExpiration(refused), std::nullopt) << "'" << refused << "'";
  }
}

TEST(QueueArguments, MaxPriorityUpTo255) {
  absl::StatusOr<QueueArguments> parsed = Parse({{"x-max-priority", int32_t{255}}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->max_priority, 255);
  EXPECT_EQ(CodeOf("x-max-priority", int32_t{256}), ReplyCode::kPreconditionFailed);
  EXPECT_EQ(CodeOf("x-max-priority", int32_t{0}), ReplyCode::kNone);
}

TEST(QueueArguments, OverflowTakesTheThreeRabbitMqModes) {
  EXPECT_EQ(Parse({{"x-overflow", "drop-head"}}).value().overflow, Overflow::kDropHead);
  EXPECT_EQ(Parse({{"x-overflow", "reject-publish"}}).value().overflow, Overflow::kRejectPublish);
  EXPECT_EQ(Parse({{"x-overflow", "reject-publish-dlx"}}).value().overflow,
            Overflow::kRejectPublishDlx);
}

TEST(QueueArguments, UnknownOverflowIsRefused) {
  EXPECT_EQ(CodeOf("x-overflow", "drop-tail"), ReplyCode::kPreconditionFailed);
  EXPECT_EQ(CodeOf("x-overflow", "Drop-Head"), ReplyCode::kPreconditionFailed);
  EXPECT_EQ(CodeOf("x-overflow", int32_t{1}), ReplyCode::kPreconditionFailed);
}

TEST(QueueArguments, DeadLetterExchangeMustBeALongString) {
  EXPECT_EQ(CodeOf("x-dead-letter-exchange", ""), ReplyCode::kNone);
  EXPECT_EQ(CodeOf("x-dead-letter-exchange", int32_t{1}), ReplyCode::kPreconditionFailed);
  EXPECT_EQ(CodeOf("x-dead-letter-exchange", ByteArray{"dlx"}), ReplyCode::kPreconditionFailed);
}

TEST(QueueArguments, DeadLetterRoutingKeyNeedsADeadLetterExchange) {
  EXPECT_EQ(CodeOf("x-dead-letter-routing-key", "dead"), ReplyCode::kPreconditionFailed);
  absl::StatusOr<QueueArguments> parsed =
      Parse({{"x-dead-letter-routing-key", "dead"}, {"x-dead-letter-exchange", ""}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->dead_letter_exchange, "");
  EXPECT_EQ(parsed->dead_letter_routing_key, "dead");
}

TEST(QueueArguments, DeadLetterRoutingKeyMustBeALongString) {
  absl::Status s =
      Parse({{"x-dead-letter-exchange", "dlx"}, {"x-dead-letter-routing-key", int32_t{1}}})
          .status();
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed);
}

TEST(QueueArguments, QueueTypeClassicOrQuorum) {
  absl::StatusOr<QueueArguments> classic = Parse({{"x-queue-type", "classic"}});
  ASSERT_TRUE(classic.ok()) << classic.status();
  EXPECT_FALSE(classic->quorum);
  absl::StatusOr<QueueArguments> quorum = Parse({{"x-queue-type", "quorum"}});
  ASSERT_TRUE(quorum.ok()) << quorum.status();
  EXPECT_TRUE(quorum->quorum);
  EXPECT_EQ(CodeOf("x-queue-type", "fifo"), ReplyCode::kPreconditionFailed);
  // RabbitMQ has streams; warren does not (README.md, Limits).
  EXPECT_EQ(CodeOf("x-queue-type", "stream"), ReplyCode::kPreconditionFailed);
  EXPECT_EQ(CodeOf("x-queue-type", int32_t{1}), ReplyCode::kPreconditionFailed);
}

TEST(QueueArguments, QueueModeDefaultOrLazy) {
  EXPECT_EQ(CodeOf("x-queue-mode", "default"), ReplyCode::kNone);
  EXPECT_EQ(CodeOf("x-queue-mode", "lazy"), ReplyCode::kNone);
  EXPECT_EQ(CodeOf("x-queue-mode", "eager"), ReplyCode::kPreconditionFailed);
}

TEST(QueueArguments, SingleActiveConsumerMustBeABool) {
  absl::StatusOr<QueueArguments> off = Parse({{"x-single-active-consumer", false}});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->single_active_consumer);
  EXPECT_EQ(CodeOf("x-single-active-consumer", int32_t{1}), ReplyCode::kPreconditionFailed);
  EXPECT_EQ(CodeOf("x-single-active-consumer", "true"), ReplyCode::kPreconditionFailed);
}

TEST(QueueArguments, UnknownArgumentsAreIgnored) {
  EXPECT_TRUE(Parse({{"x-custom", "anything"}, {"no-prefix", int32_t{-5}}}).ok());
}

TEST(QueueArgumentEquivalence, SameTablesAreEquivalent) {
  FieldTable args{{"x-max-length", int32_t{10}}, {"x-dead-letter-exchange", "dlx"}};
  EXPECT_TRUE(Equivalent(args, args).ok());
  EXPECT_TRUE(Equivalent({}, {}).ok());
}

TEST(QueueArgumentEquivalence, IntegersOfDifferentWidthsCompareByValue) {
  EXPECT_TRUE(Equivalent({{"x-max-length", int32_t{10}}}, {{"x-max-length", int64_t{10}}}).ok());
  EXPECT_TRUE(Equivalent({{"x-message-ttl", uint8_t{7}}}, {{"x-message-ttl", int16_t{7}}}).ok());
}

TEST(QueueArgumentEquivalence, DifferentValuesAreRefused) {
  absl::Status s = Equivalent({{"x-max-length", int32_t{10}}}, {{"x-max-length", int64_t{11}}});
  EXPECT_EQ(ReplyCodeOf(s), ReplyCode::kPreconditionFailed);
  EXPECT_THAT(std::string(s.message()), HasSubstr("inequivalent arg 'x-max-length'"));
  EXPECT_EQ(ReplyCodeOf(Equivalent({{"x-dead-letter-exchange", "a"}},
                                   {{"x-dead-letter-exchange", "b"}})),
            ReplyCode::kPreconditionFailed);
  EXPECT_EQ(ReplyCodeOf(Equivalent({{"x-single-active-consumer", true}},
                                   {{"x-single-active-consumer", false}})),
            ReplyCode::kPreconditionFailed);
}

TEST(QueueArgumentEquivalence, DifferentTypeClassesAreRefused) {
  EXPECT_EQ(ReplyCodeOf(Equivalent({{"x-max-length", int32_t{10}}}, {{"x-max-length", "10"}})),
            ReplyCode::kPreconditionFailed);
}

TEST(QueueArgumentEquivalence, MissingVersusPresentIsRefused) {
  EXPECT_EQ(ReplyCodeOf(Equivalent({}, {{"x-message-ttl", int32_t{100}}})),
            ReplyCode::kPreconditionFailed);
  EXPECT_EQ(ReplyCodeOf(Equivalent({{"x-message-ttl", int32_t{100}}}, {})),
            ReplyCode::kPreconditionFailed);
}

TEST(QueueArgumentEquivalence, ArgumentsRabbitMqDoesNotCompareAreIgnored) {
  EXPECT_TRUE(Equivalent({{"x-custom", "a"}, {"x-max-length", int32_t{1}}},
                         {{"x-custom", "b"}, {"other", int32_t{2}}, {"x-max-length", int8_t{1}}})
                  .ok());
}

}  // namespace
}  // namespace warren::queue
