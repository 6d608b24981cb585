// The real NcclApi: each entry is one NCCL or CUDA runtime call, its status mapped to NcclResult
// (ncclInProgress and cudaErrorNotReady are Pending). Communicators are nonblocking
// (ncclConfig_t.blocking = 0): no call blocks the transport's lock, and a communicator whose set-up
// or enqueueing hangs can still be aborted by the watchdog.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "runtime/comm/nccl_registry.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "the NCCL transport needs NCCL 2.14 or newer (nonblocking communicators, ncclCommFinalize)"
#endif

namespace ps {
namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(NcclId), "ncclUniqueId is NCCL_UNIQUE_ID_BYTES long");

NcclResult from_nccl(ncclResult_t r, ncclComm_t comm = nullptr) {
  if (r == ncclSuccess) return {};
  if (r == ncclInProgress) return {NcclResult::Pending, "in progress"};
  const char* detail = comm != nullptr ? ncclGetLastError(comm) : nullptr;
  return {NcclResult::Failed, detail != nullptr && detail[0] != '\0' ? detail : ncclGetErrorString(r)};
}

NcclResult from_cuda(cudaError_t e) {
  if (e == cudaSuccess) return {};
  if (e == cudaErrorNotReady) return {NcclResult::Pending, "not ready"};
  return {NcclResult::Failed, cudaGetErrorString(e)};
}

ncclComm_t comm_of(void* c) { return static_cast<ncclComm_t>(c); }
cudaStream_t stream_of(void* s) { return static_cast<cudaStream_t>(s); }
cudaEvent_t event_of(void* e) { return static_cast<cudaEvent_t>(e); }

NcclResult get_unique_id(void*, NcclId* id) {
  ncclUniqueId u;
  const ncclResult_t r = ncclGetUniqueId(&u);
  if (r == ncclSuccess) std::memcpy(id->data(), &u, sizeof u);
  return from_nccl(r);
}

NcclResult comm_init_rank(void*, void** comm, int nranks, const NcclId& id, int rank) {
  ncclUniqueId u;
  std::memcpy(&u, id.data(), sizeof u);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t c = nullptr;
  const ncclResult_t r = ncclCommInitRankConfig(&c, nranks, u, rank, &config);
  *comm = c;
  return from_nccl(r, c);
}

NcclResult comm_async_error(void*, void* comm) {
  ncclResult_t state = ncclSuccess;
  const ncclResult_t r = ncclCommGetAsyncError(comm_of(comm), &state);
  if (r != ncclSuccess) return from_nccl(r, comm_of(comm));
  return from_nccl(state, comm_of(comm));
}

NcclResult comm_abort(void*, void* comm) { return from_nccl(ncclCommAbort(comm_of(comm))); }

// Finalize (flush, release peers), then destroy; a communicator that does not finalize within a
// few seconds is aborted instead, so teardown never hangs.
NcclResult comm_destroy(void*, void* comm) {
  const ncclComm_t c = comm_of(comm);
  ncclResult_t r = ncclCommFinalize(c);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  ncclResult_t state = r;
  while (state == ncclInProgress && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (ncclCommGetAsyncError(c, &state) != ncclSuccess) break;
  }
  if ((r != ncclSuccess && r != ncclInProgress) || state != ncclSuccess) return from_nccl(ncclCommAbort(c));
  return from_nccl(ncclCommDestroy(c));
}

NcclResult group_start(void*) { return from_nccl(ncclGroupStart()); }
NcclResult group_end(void*) { return from_nccl(ncclGroupEnd()); }

NcclResult send(void*, const void* buf, size_t bytes, int peer, void* comm, void* stream) {
  return from_nccl(ncclSend(buf, bytes, ncclUint8, peer, comm_of(comm), stream_of(stream)), comm_of(comm));
}
NcclResult recv(void*, void* buf, size_t bytes, int peer, void* comm, void* stream) {
  return from_nccl(ncclRecv(buf, bytes, ncclUint8, peer, comm_of(comm), stream_of(stream)), comm_of(comm));
}

NcclResult set_device(void*, int device) { return from_cuda(cudaSetDevice(device)); }
NcclResult stream_create(void*, void** stream) {
  cudaStream_t s = nullptr;
  const cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  *stream = s;
  return from_cuda(e);
}
NcclResult stream_destroy(void*, void* stream) { return from_cuda(cudaStreamDestroy(stream_of(stream))); }
NcclResult event_create(void*, void** event) {
  cudaEvent_t ev = nullptr;
  const cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
  *event = ev;
  return from_cuda(e);
}
NcclResult event_destroy(void*, void* event) { return from_cuda(cudaEventDestroy(event_of(event))); }
NcclResult event_record(void*, void* event, void* stream) {
  return from_cuda(cudaEventRecord(event_of(event), stream_of(stream)));
}
NcclResult event_query(void*, void* event) { return from_cuda(cudaEventQuery(event_of(event))); }
NcclResult stream_wait_event(void*, void* stream, void* event) {
  return from_cuda(cudaStreamWaitEvent(stream_of(stream), event_of(event), 0));
}
NcclResult device_alloc(void*, void** ptr, size_t bytes) { return from_cuda(cudaMalloc(ptr, bytes)); }
NcclResult device_free(void*, void* ptr) { return from_cuda(cudaFree(ptr)); }
NcclResult host_alloc(void*, void** ptr, size_t bytes) { return from_cuda(cudaHostAlloc(ptr, bytes, cudaHostAllocDefault)); }
NcclResult host_free(void*, void* ptr) { return from_cuda(cudaFreeHost(ptr)); }
NcclResult copy_async(void*, void* dst, const void* src, size_t bytes, void* stream) {
  return from_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_of(stream)));
}

NcclApi make_api() {
  NcclApi a;
  a.get_unique_id = get_unique_id;
  a.comm_init_rank = comm_init_rank;
  a.comm_async_error = comm_async_error;
  a.comm_abort = comm_abort;
  a.comm_destroy = comm_destroy;
  a.group_start = group_start;
  a.group_end = group_end;
  a.send = send;
  a.recv = recv;
  a.set_device = set_device;
  a.stream_create = stream_create;
  a.stream_destroy = stream_destroy;
  a.event_create = event_create;
  a.event_destroy = event_destroy;
  a.event_record = event_record;
  a.event_query = event_query;
  a.stream_wait_event = stream_wait_event;
  a.device_alloc = device_alloc;
  a.device_free = device_free;
  a.host_alloc = host_alloc;
  a.host_free = host_free;
  a.copy_async = copy_async;
  return a;
}

}  // namespace

const NcclApi& nccl_api_cuda() {
  static const NcclApi api = make_api();
  return api;
}

}  // namespace ps
