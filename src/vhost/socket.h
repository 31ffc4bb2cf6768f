#pragma once

// The two ways a vhost-user back-end meets its front-end over a unix stream socket:
//
//  - VhostUserServer listens on a path (QEMU `-chardev socket,path=...` without server,
//    DPDK virtio-user without server=1). One front-end at a time; further connections are
//    refused until it leaves. A stale socket file at the path is removed at start, but a
//    path that is not a socket, or a socket somebody still listens on, is left alone.
//  - VhostUserClient connects to a front-end that listens (QEMU `server=on`, DPDK
//    `server=1`) and reconnects with exponential backoff whenever it goes away.
//
// Both run on an EventLoop driven by the control thread and hand the connection to a
// VhostUserBackend, which they detach (resetting the device) on disconnect.

#include <chrono>
#include <cstdint>
#include <string>

#include "vhost/backend.h"
#include "vhost/event_loop.h"
#include "vhost/unique_fd.h"

namespace ferry::vhost {

class VhostUserServer {
 public:
  VhostUserServer(EventLoop& loop, std::string path, VhostUserBackend& backend);
  ~VhostUserServer();
  VhostUserServer(const VhostUserServer&) = delete;
  VhostUserServer& operator=(const VhostUserServer&) = delete;

  bool start(std::string* error);
  // Closes the listener and any connection, removes the socket file.
  void stop();
  const std::string& path() const { return path_; }
  uint64_t connections() const { return connections_; }
  uint64_t refused() const { return refused_; }

 private:
  void on_accept();
  void close_connection();

  EventLoop& loop_;
  std::string path_;
  VhostUserBackend& backend_;
  UniqueFd listen_;
  uint64_t connections_ = 0;
  uint64_t refused_ = 0;
};

class VhostUserClient {
 public:
  VhostUserClient(EventLoop& loop, std::string path, VhostUserBackend& backend,
                  std::chrono::milliseconds min_backoff = std::chrono::milliseconds(100),
                  std::chrono::milliseconds max_backoff = std::chrono::milliseconds(5000));
  ~VhostUserClient();
  VhostUserClient(const VhostUserClient&) = delete;
  VhostUserClient& operator=(const VhostUserClient&) = delete;

  // Tries to connect now and keeps trying in the background until stop().
  void start();
  void stop();
  bool connected() const { return backend_.connected(); }
  uint64_t connections() const { return connections_; }
  uint64_t attempts() const { return attempts_; }

 private:
  void try_connect();
  void schedule_retry();
  void close_connection();

  EventLoop& loop_;
  std::string path_;
  VhostUserBackend& backend_;
  std::chrono::milliseconds min_backoff_, max_backoff_, backoff_;
  uint64_t timer_ = 0;
  bool running_ = false;
  uint64_t connections_ = 0;
  uint64_t attempts_ = 0;
};

}  // namespace ferry::vhost
