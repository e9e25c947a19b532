// Private: the Asio state behind EventLoop, for the transports in this library.
#pragma once

#include "rapide/lsp/event_loop.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <map>
#include <memory>

namespace rapide::lsp {

struct EventLoop::Impl {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::map<TimerId, std::unique_ptr<boost::asio::steady_timer>> timers;
  TimerId next_timer = 1;
};

}  // namespace rapide::lsp
