// examples/tutorials/2_work_queues.cc: RabbitMQ tutorial 2, "Work Queues",
// against warren.
//
// new_task.py publishes tasks to the durable queue "task_queue"; a task's dots
// are the seconds of work it stands for. Two worker.py consumers compete for
// them with prefetch 1 and manual acks, so a worker busy with a long task gets
// no new one until it acks, and the other worker takes it (fair dispatch). Here
// they are three connections of one process; the program waits until every
// task is acked and exits 0.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "example_support.h"
#include "warren/broker.h"

using examples::Check;

namespace {

// The tutorial's own example tasks.
const std::vector<std::string> kTasks = {"First message.", "Second message..", "Third message...",
                                         "Fourth message....", "Fifth message....."};

// The tutorial works a second per dot; a tenth keeps the test quick while a
// long task still holds its worker long enough for the other to take the next.
constexpr std::chrono::milliseconds kWorkPerDot{100};

struct Worker {
  std::unique_ptr<warren::Connection> connection;
  std::unique_ptr<warren::Channel> channel;
};

// worker.py: takes one task at a time, works it, then acks it, so that a task
// whose worker dies before the ack is requeued for another worker.
Worker StartWorker(warren::Broker& broker, int id, std::atomic<int>& tasks_done,
                   examples::Inbox& done) {
  Worker worker;
  worker.connection = Check(broker.Connect(), "connect a worker");
  worker.channel = Check(worker.connection->OpenChannel(), "open a worker's channel");
  warren::Channel* channel = worker.channel.get();
  Check(channel->QueueDeclare("task_queue", {.durable = true}), "declare 'task_queue'");
  Check(channel->BasicQos(1), "set prefetch 1");
  Check(channel->BasicConsume("task_queue",
                              [channel, id, &tasks_done, &done](const warren::Delivery& delivery) {
                                std::string task(delivery.message.body());
                                std::printf(" [worker %d] Received '%s'\n", id, task.c_str());
                                std::this_thread::sleep_for(
                                    kWorkPerDot * std::count(task.begin(), task.end(), '.'));
                                std::printf(" [worker %d] Done\n", id);
                                Check(channel->BasicAck(delivery.delivery_tag), "ack a task");
                                ++tasks_done;
                                done.Add(task);
                              }),
        "consume from 'task_queue'");
  std::printf(" [worker %d] Waiting for messages\n", id);
  return worker;
}

}  // namespace

int main() {
  // Declared before the broker so that they outlive it: destroying the
  // broker waits for the callbacks that write here.
  std::array<std::atomic<int>, 2> tasks_done_by{};
  examples::Inbox done;
  auto broker = Check(warren::Broker::Create(), "create the broker");

  Worker worker1 = StartWorker(*broker, 1, tasks_done_by[0], done);
  Worker worker2 = StartWorker(*broker, 2, tasks_done_by[1], done);

  // new_task.py, once per task. The queue is durable and the messages
  // persistent, as the tutorial makes them to survive a broker restart.
  auto producer = Check(broker->Connect(), "connect the producer");
  auto channel = Check(producer->OpenChannel(), "open the producer's channel");
  Check(channel->QueueDeclare("task_queue", {.durable = true}), "declare 'task_queue'");
  for (const std::string& task : kTasks) {
    warren::BasicProperties persistent;
    persistent.delivery_mode = 2;
    Check(channel->BasicPublish("", "task_queue", warren::Message(task, std::move(persistent))),
          "publish a task");
    std::printf(" [x] Sent '%s'\n", task.c_str());
  }
  Check(producer->Close(), "close the producer");

  bool all_done = done.WaitFor(kTasks.size());
  std::vector<std::string> finished = done.lines();
  std::sort(finished.begin(), finished.end());
  std::vector<std::string> expected = kTasks;
  std::sort(expected.begin(), expected.end());
  std::printf("worker 1 did %d task(s), worker 2 did %d\n", tasks_done_by[0].load(),
              tasks_done_by[1].load());
  if (!all_done || finished != expected) {
    std::printf("FAILED: %zu of %zu tasks were done exactly once\n", finished.size(),
                kTasks.size());
    return 1;
  }
  // With prefetch 1, the first long task keeps worker 1 busy, so the second
  // must have gone to worker 2.
  if (tasks_done_by[0] == 0 || tasks_done_by[1] == 0) {
    std::printf("FAILED: one worker did every task; prefetch 1 should share them\n");
    return 1;
  }
  Check(worker1.connection->Close(), "close worker 1");
  Check(worker2.connection->Close(), "close worker 2");
  return 0;
}
