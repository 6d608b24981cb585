#include "runtime/comm/tcp_store_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <thread>

#include "runtime/comm/job_token.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

uint32_t timeout_ms(std::chrono::milliseconds t) {
  return static_cast<uint32_t>(std::clamp<int64_t>(t.count(), 0, std::numeric_limits<uint32_t>::max()));
}

std::string quoted_list(const std::vector<std::string>& keys) {
  std::string out;
  const size_t shown = std::min<size_t>(keys.size(), 10);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", '" : "'") + keys[i] + "'";
  if (keys.size() > shown) out += str(" and ", keys.size() - shown, " more");
  return out;
}

// Errors a connect can hit while rank 0 is still starting or the network is coming up.
bool connect_error_is_transient(int err) {
  return err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH ||
         err == ECONNRESET || err == EAGAIN || err == EINTR;
}

}  // namespace

TcpStoreClient::TcpStoreClient(TcpStoreClientOptions options) : opt_(std::move(options)) {
  const net::SockAddr addr = net::resolve(opt_.address, opt_.port, "store address");
  endpoint_ = addr.str();
  const net::Deadline deadline = net::deadline_after(opt_.connect_timeout);
  auto backoff = std::chrono::milliseconds(10);
  for (;;) {
    int err = 0;
    fd_ = net::connect_once(addr, deadline, err);
    if (fd_.valid()) break;
    if (!connect_error_is_transient(err))
      fail_runtime("store: cannot connect to ", endpoint_, ": ", std::strerror(err));
    if (net::Clock::now() >= deadline)
      fail_timeout("store: could not connect to ", endpoint_, " within ", duration_str(opt_.connect_timeout), ": ",
                   std::strerror(err), " (is rank 0 running, and MASTER_ADDR/MASTER_PORT right?)");
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(backoff, std::chrono::milliseconds(
                                                                                net::ms_until(deadline))));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
  const int on = 1;  // one small request at a time: no Nagle delay
  ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  const StoreMessage hello = store_hello(opt_.token);
  StoreMessage r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r = with_context("store: joining " + endpoint_, [&] { return call_locked(hello, "HELLO", opt_.io_timeout); });
  }
  if (r.op != StoreOp::Ok) fail_runtime("store: joining ", endpoint_, ": unexpected ", store_op_name(r.op), " reply");
}

void TcpStoreClient::set(const std::string& key, std::span<const uint8_t> value) {
  const StoreMessage req = store_set(key, std::vector<uint8_t>(value.begin(), value.end()));
  const StoreMessage r = call(req, "SET '" + key + "'", opt_.io_timeout);
  if (r.op != StoreOp::Ok) fail_runtime("store ", endpoint_, ": SET '", key, "': unexpected ", store_op_name(r.op));
}

std::vector<uint8_t> TcpStoreClient::get(const std::string& key, std::chrono::milliseconds timeout) {
  const StoreMessage req = store_get(key, timeout_ms(timeout));
  StoreMessage r = call(req, "GET '" + key + "'", std::chrono::milliseconds(req.timeout_ms) + opt_.io_timeout);
  if (r.op == StoreOp::Timeout)
    fail_timeout("store ", endpoint_, ": key '", key, "' was not set within ", duration_str(timeout));
  if (r.op != StoreOp::Value) fail_runtime("store ", endpoint_, ": GET '", key, "': unexpected ", store_op_name(r.op));
  return std::move(r.value);
}

void TcpStoreClient::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  if (keys.empty()) return;
  const StoreMessage req = store_wait(keys, timeout_ms(timeout));
  const StoreMessage r = call(req, "WAIT " + quoted_list(keys), std::chrono::milliseconds(req.timeout_ms) + opt_.io_timeout);
  if (r.op == StoreOp::Timeout)
    fail_timeout("store ", endpoint_, ": keys not set within ", duration_str(timeout), ": ", quoted_list(r.keys));
  if (r.op != StoreOp::Ok) fail_runtime("store ", endpoint_, ": WAIT: unexpected ", store_op_name(r.op));
}

int64_t TcpStoreClient::add(const std::string& key, int64_t delta) {
  const StoreMessage r = call(store_add(key, delta), "ADD '" + key + "'", opt_.io_timeout);
  if (r.op != StoreOp::Int) fail_runtime("store ", endpoint_, ": ADD '", key, "': unexpected ", store_op_name(r.op));
  return r.number;
}

void TcpStoreClient::erase(const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  const StoreMessage r = call(store_delete(keys), "DELETE " + quoted_list(keys), opt_.io_timeout);
  if (r.op != StoreOp::Ok) fail_runtime("store ", endpoint_, ": DELETE: unexpected ", store_op_name(r.op));
}

bool TcpStoreClient::check(const std::vector<std::string>& keys) {
  if (keys.empty()) return true;
  const StoreMessage r = call(store_check(keys), "CHECK " + quoted_list(keys), opt_.io_timeout);
  if (r.op != StoreOp::Bool) fail_runtime("store ", endpoint_, ": CHECK: unexpected ", store_op_name(r.op));
  return r.flag;
}

StoreMessage TcpStoreClient::call(const StoreMessage& request, const std::string& what,
                                  std::chrono::milliseconds reply_within) {
  std::lock_guard<std::mutex> lock(mu_);
  return call_locked(request, what, reply_within);
}

StoreMessage TcpStoreClient::call_locked(const StoreMessage& request, const std::string& what,
                                         std::chrono::milliseconds reply_within) {
  if (!fd_.valid()) fail_runtime("store ", endpoint_, ": ", what, ": not connected (", broken_, ")");
  const std::vector<uint8_t> frame = store_encode(request);  // over-limit fields throw here, connection intact
  const net::Deadline d = net::deadline_after(reply_within);
  net::IoResult io = net::write_all(fd_.get(), frame.data(), frame.size(), d);
  if (io.status != net::IoStatus::Ok) fail_io(what, io);
  // The length is checked before the reply's buffer is allocated, as the server does.
  std::vector<uint8_t> reply(4);
  io = net::read_exact(fd_.get(), reply.data(), 4, d);
  if (io.status != net::IoStatus::Ok) fail_io(what, io);
  StoreDecode dec = store_decode(reply);
  if (dec.status == StoreDecode::Status::NeedMore) {
    const uint32_t len = uint32_t{reply[0]} | uint32_t{reply[1]} << 8 | uint32_t{reply[2]} << 16 | uint32_t{reply[3]} << 24;
    reply.resize(4 + size_t{len});
    io = net::read_exact(fd_.get(), reply.data() + 4, len, d);
    if (io.status != net::IoStatus::Ok) fail_io(what, io);
    dec = store_decode(reply);
  }
  if (dec.status != StoreDecode::Status::Message) {
    broken_ = "malformed reply: " + dec.error;
    fd_.reset();
    fail_runtime("store ", endpoint_, ": ", what, ": ", broken_);
  }
  if (dec.message.op == StoreOp::Error) {
    const bool token = request.op == StoreOp::Hello && dec.message.text == "bad job token";
    fail_runtime("store ", endpoint_, ": ", what, ": ", dec.message.text,
                 token ? str(" (", kJobTokenEnv, " must be the same for every worker of the job)") : "");
  }
  return std::move(dec.message);
}

void TcpStoreClient::fail_io(const std::string& what, const net::IoResult& r) {
  broken_ = what + ": " + r.str();
  fd_.reset();
  if (r.status == net::IoStatus::Timeout) fail_timeout("store ", endpoint_, ": ", what, ": no reply in time");
  fail_runtime("store ", endpoint_, ": ", what, ": ", r.str(), " (did rank 0 exit?)");
}

}  // namespace ps
