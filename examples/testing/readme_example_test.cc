// examples/testing/readme_example_test.cc: the example of README.md's
// "Testing with warren", built and run by ctest so that it stays true. Below
// this comment the file is exactly the README's code block, which the ctest
// check readme_testing_example_matches compares (check_readme_example.cmake):
// change both together.

#include "warren/testing.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace warren::testkit;

// The code under test: rejects what it cannot handle, to a dead-letter queue.
void StartWorker(warren::Channel& channel) {
  channel.BasicConsume("work", [&channel](const warren::Delivery& d) {
    if (d.message.body() == "poison") {
      channel.BasicReject(d.delivery_tag).IgnoreError();
    } else {
      channel.BasicAck(d.delivery_tag).IgnoreError();
    }
  }).IgnoreError();
}

TEST(Worker, RejectsPoisonToTheDeadLetterQueueAndExpiresTheRest) {
  TestBroker broker;
  auto setup = broker.OpenChannel().value();
  setup->QueueDeclare("dead").IgnoreError();
  setup->QueueDeclare("work", {.arguments = {{"x-dead-letter-exchange", ""},
                                             {"x-dead-letter-routing-key", "dead"},
                                             {"x-message-ttl", int32_t{60000}}}})
      .IgnoreError();

  auto connection = broker.Connect().value();
  auto channel = connection->OpenChannel().value();
  StartWorker(*channel);
  broker.Publish("", "work", warren::Message("poison")).IgnoreError();
  broker.RunUntilIdle();

  EXPECT_THAT(broker.MessagesIn("dead"),
              ElementsAre(AllOf(HasBody("poison"), HasXDeathReason("rejected"))));
  EXPECT_THAT(broker.UnackedOn(*channel), IsEmpty());

  channel->Close().IgnoreError();  // nobody consumes "work" now
  broker.Publish("", "work", warren::Message("late")).IgnoreError();
  broker.AdvanceTime(absl::Minutes(1));
  EXPECT_THAT(broker.MessagesIn("dead"),
              ElementsAre(HasBody("poison"),
                          AllOf(HasBody("late"), HasXDeathReason("expired"))));
}
