// Server and client mode over real unix sockets, driven by the EventLoop.

#include "vhost/socket.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include "test_frontend.h"

namespace ferry::vhost::testing {
namespace {

std::string temp_path(const char* tag) {
  return "/tmp/ferry-vhost-test-" + std::to_string(getpid()) + "-" + tag + ".sock";
}

UniqueFd connect_to(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) fd.reset();
  return fd;
}

UniqueFd listen_on(const std::string& path) {
  unlink(path.c_str());
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(listen(fd.get(), 1), 0);
  return fd;
}

BackendConfig quiet_config() {
  BackendConfig c;
  c.log = [](std::string_view) {};
  return c;
}

// Runs the loop until pred() or about two seconds pass.
template <typename Pred>
bool run_until(EventLoop& loop, Pred pred) {
  for (int i = 0; i < 200 && !pred(); i++)
    loop.run_once(10);
  return pred();
}

TEST(SocketTest, ServerRemovesStaleSocketAndServesOneFrontEnd) {
  int fds_before = count_fds();
  std::string path = temp_path("server");
  {
    // A stale socket file: bound, then its owner died.
    UniqueFd stale = listen_on(path);
  }
  EventLoop loop;
  VhostUserBackend backend(quiet_config(), nullptr);
  VhostUserServer server(loop, path, backend);
  std::string error;
  ASSERT_TRUE(server.start(&error)) << error;

  UniqueFd fe_sock = connect_to(path);
  ASSERT_TRUE(fe_sock.valid());
  ASSERT_TRUE(run_until(loop, [&] { return backend.connected(); }));
  UniqueFd second = connect_to(path);
  ASSERT_TRUE(run_until(loop, [&] { return server.refused() == 1; }));

  TestFrontend fe(fe_sock.get());
  ASSERT_TRUE(fe.send_empty(Request::GET_FEATURES));
  Message reply;
  ASSERT_TRUE(run_until(loop, [&] { return fe.has_pending(); }));
  ASSERT_TRUE(fe.recv(&reply));
  EXPECT_TRUE(reply.u64() & (1ull << kFeatureProtocolFeatures));

  // The front-end leaves; a new one is accepted.
  fe_sock.reset();
  ASSERT_TRUE(run_until(loop, [&] { return !backend.connected(); }));
  fe_sock = connect_to(path);
  ASSERT_TRUE(run_until(loop, [&] { return backend.connected(); }));
  EXPECT_EQ(server.connections(), 2u);
  fe_sock.reset();
  second.reset();
  server.stop();
  struct stat st;
  EXPECT_NE(lstat(path.c_str(), &st), 0);  // socket file removed
  EXPECT_EQ(count_fds(), fds_before + 2);  // the loop's epoll and eventfd
}

TEST(SocketTest, ServerRefusesPathThatIsNotASocketOrInUse) {
  std::string path = temp_path("file");
  { std::ofstream(path) << "keep me"; }
  EventLoop loop;
  VhostUserBackend backend(quiet_config(), nullptr);
  VhostUserServer server(loop, path, backend);
  std::string error;
  EXPECT_FALSE(server.start(&error));
  EXPECT_NE(error.find("not a socket"), std::string::npos);
  unlink(path.c_str());
  UniqueFd live = listen_on(path);
  VhostUserServer second(loop, path, backend);
  EXPECT_FALSE(second.start(&error));
  EXPECT_NE(error.find("in use"), std::string::npos);
  unlink(path.c_str());
}

TEST(SocketTest, ClientReconnectsWithBackoff) {
  std::string path = temp_path("client");
  unlink(path.c_str());
  EventLoop loop;
  VhostUserBackend backend(quiet_config(), nullptr);
  VhostUserClient client(loop, path, backend, std::chrono::milliseconds(10),
                         std::chrono::milliseconds(40));
  client.start();
  EXPECT_FALSE(client.connected());
  // Nobody listens yet: it keeps trying.
  ASSERT_TRUE(run_until(loop, [&] { return client.attempts() >= 3; }));
  UniqueFd listener = listen_on(path);
  ASSERT_TRUE(run_until(loop, [&] { return client.connected(); }));
  UniqueFd fe_sock(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(fe_sock.valid());
  TestFrontend fe(fe_sock.get());
  ASSERT_TRUE(fe.send_empty(Request::GET_QUEUE_NUM));
  ASSERT_TRUE(run_until(loop, [&] { return fe.has_pending(); }));
  Message reply;
  ASSERT_TRUE(fe.recv(&reply));
  EXPECT_EQ(reply.u64(), 1u);
  // The front-end restarts: the client comes back on its own.
  fe_sock.reset();
  ASSERT_TRUE(run_until(loop, [&] { return !client.connected(); }));
  ASSERT_TRUE(run_until(loop, [&] { return client.connected(); }));
  EXPECT_EQ(client.connections(), 2u);
  client.stop();
  unlink(path.c_str());
}

// A front-end that sends garbage is cut off; the next one is served normally.
TEST(SocketTest, ServerSurvivesAFramingError) {
  std::string path = temp_path("garbage");
  EventLoop loop;
  VhostUserBackend backend(quiet_config(), nullptr);
  VhostUserServer server(loop, path, backend);
  std::string error;
  ASSERT_TRUE(server.start(&error)) << error;
  UniqueFd bad = connect_to(path);
  ASSERT_TRUE(run_until(loop, [&] { return backend.connected(); }));
  Header h{1, 0x7, 0xffff};  // wrong version and oversized
  ASSERT_EQ(write(bad.get(), &h, sizeof(h)), static_cast<ssize_t>(sizeof(h)));
  ASSERT_TRUE(run_until(loop, [&] { return !backend.connected(); }));
  EXPECT_EQ(backend.rejects(RejectReason::kBadVersion), 1u);
  UniqueFd good = connect_to(path);
  ASSERT_TRUE(run_until(loop, [&] { return backend.connected(); }));
  TestFrontend fe(good.get());
  ASSERT_TRUE(fe.send_empty(Request::GET_PROTOCOL_FEATURES));
  ASSERT_TRUE(run_until(loop, [&] { return fe.has_pending(); }));
  Message reply;
  ASSERT_TRUE(fe.recv(&reply));
  EXPECT_NE(reply.u64(), 0u);
  server.stop();
}

TEST(SocketTest, LoopStopsFromAnotherThread) {
  EventLoop loop;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop.stop();
  });
  loop.run();
  t.join();
  EXPECT_TRUE(loop.stopping());
}

TEST(SocketTest, TimersRunInOrderAndCancel) {
  EventLoop loop;
  std::vector<int> order;
  loop.call_after(std::chrono::milliseconds(20), [&] { order.push_back(2); });
  loop.call_after(std::chrono::milliseconds(5), [&] { order.push_back(1); });
  uint64_t id = loop.call_after(std::chrono::milliseconds(10), [&] { order.push_back(9); });
  loop.cancel(id);
  run_until(loop, [&] { return order.size() == 2; });
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace ferry::vhost::testing
