// examples/tutorials/1_hello_world.cc: RabbitMQ tutorial 1, "Hello World!",
// against warren.
//
// The tutorial's two programs, receive.py and send.py, run here as two
// connections of one process: the sender publishes one message to the queue
// "hello" through the default exchange, then the receiver consumes it. The
// program waits for the message to arrive and exits 0.

#include <cstdio>
#include <string>

#include "example_support.h"
#include "warren/broker.h"

using examples::Check;

int main() {
  // Declared before the broker so that it outlives it: destroying the broker
  // waits for the callbacks that write here.
  examples::Inbox received;
  auto broker = Check(warren::Broker::Create(), "create the broker");

  // send.py. Both sides declare the queue, since either may start first;
  // declaring an existing queue with the same flags is a no-op. The queue
  // keeps the message until a consumer comes.
  auto sender = Check(broker->Connect(), "connect the sender");
  auto send_channel = Check(sender->OpenChannel(), "open the sender's channel");
  Check(send_channel->QueueDeclare("hello"), "declare queue 'hello'");
  Check(send_channel->BasicPublish("", "hello", warren::Message("Hello World!")),
        "publish to 'hello'");
  std::printf(" [x] Sent 'Hello World!'\n");
  Check(sender->Close(), "close the sender");

  // receive.py
  auto receiver = Check(broker->Connect(), "connect the receiver");
  auto receive_channel = Check(receiver->OpenChannel(), "open the receiver's channel");
  Check(receive_channel->QueueDeclare("hello"), "declare queue 'hello'");
  std::printf(" [*] Waiting for messages\n");
  Check(receive_channel->BasicConsume("hello",
                                      [&](const warren::Delivery& delivery) {
                                        std::string body(delivery.message.body());
                                        std::printf(" [x] Received %s\n", body.c_str());
                                        received.Add(body);
                                      },
                                      {.no_ack = true}),
        "consume from 'hello'");

  if (!received.Expect("receiver", {"Hello World!"})) return 1;
  Check(receiver->Close(), "close the receiver");
  return 0;
}
