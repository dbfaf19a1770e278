// tests/topology_record_test.cc: what an amqp:// connection records to
// declare again after a reconnect (lib/amqp/topology), without a broker.

#include "amqp/topology.h"

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace warren::amqp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> ExchangeNames(const Topology& topology) {
  std::vector<std::string> names;
  for (const ExchangeRecord& x : topology.exchanges()) names.push_back(x.name);
  return names;
}

std::vector<std::string> QueueNames(const Topology& topology) {
  std::vector<std::string> names;
  for (const QueueRecord& q : topology.queues()) names.push_back(q.name);
  return names;
}

BindingRecord QueueBinding(std::string queue, std::string exchange) {
  return {false, std::move(queue), std::move(exchange), "k", {}};
}

TEST(TopologyRecord, ARedeclarationReplacesTheRecordInItsPlace) {
  Topology topology;
  topology.DeclareExchange({"a", "direct", {}});
  topology.DeclareExchange({"b", "direct", {}});
  topology.DeclareExchange({"a", "fanout", {}});
  EXPECT_THAT(ExchangeNames(topology), ElementsAre("a", "b"));
  EXPECT_EQ(topology.exchanges()[0].type, "fanout");
}

TEST(TopologyRecord, AnAutoDeleteExchangeGoesWithItsLastBindingAsASource) {
  Topology topology;
  topology.DeclareExchange({"passing", "direct", {.auto_delete = true}});
  topology.DeclareExchange({"staying", "direct", {}});
  topology.DeclareQueue({.name = "q"});
  topology.Bind(QueueBinding("q", "passing"));
  topology.Bind({false, "q", "passing", "other", {}});
  topology.Bind(QueueBinding("q", "staying"));
  topology.Unbind(QueueBinding("q", "passing"));
  EXPECT_THAT(ExchangeNames(topology), ElementsAre("passing", "staying"));
  topology.DeleteQueue("q");  // its bindings go, and with them "passing"
  EXPECT_THAT(ExchangeNames(topology), ElementsAre("staying"));
  EXPECT_THAT(topology.bindings(), IsEmpty());
}

TEST(TopologyRecord, ForgettingAnAutoDeleteExchangeMayLeaveItsSourceUnbound) {
  Topology topology;
  topology.DeclareExchange({"upstream", "fanout", {.auto_delete = true}});
  topology.DeclareExchange({"middle", "fanout", {.auto_delete = true}});
  topology.DeclareQueue({.name = "q"});
  topology.Bind({true, "middle", "upstream", "", {}});
  topology.Bind(QueueBinding("q", "middle"));
  topology.Unbind(QueueBinding("q", "middle"));
  EXPECT_THAT(ExchangeNames(topology), IsEmpty());
}

TEST(TopologyRecord, OnlyConsumedAutoDeleteQueuesWithoutAConsumerAreAbandoned) {
  Topology topology;
  topology.DeclareQueue({.name = "consumed-then-left", .options = {.auto_delete = true}});
  topology.DeclareQueue({.name = "still-consumed", .options = {.auto_delete = true}});
  topology.DeclareQueue({.name = "never-consumed", .options = {.auto_delete = true}});
  topology.DeclareQueue({.name = "durable-consumed", .options = {.durable = true}});
  topology.Bind(QueueBinding("consumed-then-left", "x"));
  for (const char* name : {"consumed-then-left", "still-consumed", "durable-consumed"}) {
    topology.MarkConsumed(name);
  }
  topology.ForgetAbandonedQueues({"still-consumed"});
  EXPECT_THAT(QueueNames(topology),
              ElementsAre("still-consumed", "never-consumed", "durable-consumed"));
  EXPECT_THAT(topology.bindings(), IsEmpty());
}

TEST(TopologyRecord, ARenamedQueueKeepsItsRecordAndBindings) {
  Topology topology;
  topology.DeclareQueue(
      {.name = "amq.gen-1", .server_named = true, .options = {.auto_delete = true}});
  topology.Bind(QueueBinding("amq.gen-1", "x"));
  topology.MarkConsumed("amq.gen-1");
  topology.Rename("amq.gen-1", "amq.gen-2");
  EXPECT_EQ(topology.Resolve("amq.gen-1"), "amq.gen-2");
  EXPECT_THAT(topology.bindings(), ElementsAre(QueueBinding("amq.gen-2", "x")));
  topology.ForgetAbandonedQueues({"amq.gen-2"});
  EXPECT_THAT(QueueNames(topology), ElementsAre("amq.gen-2"));
  topology.ForgetAbandonedQueues({});
  EXPECT_THAT(QueueNames(topology), IsEmpty());
}

}  // namespace
}  // namespace warren::amqp
