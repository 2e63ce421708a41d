// Allocation guard for the JACK capture tests: a library preloaded into linetune (LD_PRELOAD) that
// counts every heap call made on the JACK process thread, the thread that runs PortAudio's JACK
// callback and with it linetune's audio callback.
//
// It interposes malloc, calloc, realloc, free and the aligned allocators (passing them on to
// glibc's __libc_* functions), and jack_port_get_buffer, which PortAudio's JACK host API calls on
// the process thread every period: the first such call marks that thread. On exit it writes
// the counts to the file named by LINETUNE_ALLOC_GUARD_REPORT as "key value" lines:
//   self_test_detected 1       a malloc and free made by the guard on the marked thread were counted
//   process_get_buffer_calls N periods times ports: shows the thread ran the audio callback
//   process_allocations N      allocations on the process thread after it was marked
//   process_frees N
//   all_allocations N          on every thread: shows the interposition is in place

#include <dlfcn.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* pointer, std::size_t size);
void __libc_free(void* pointer);
void* __libc_memalign(std::size_t alignment, std::size_t size);
}

namespace {

// The thread mark lives in the initial TLS block, so reading it never calls the allocator (a
// dynamic TLS access can, and would recurse into the guard).
__attribute__((tls_model("initial-exec"))) thread_local bool on_process_thread = false;

std::atomic<std::uint64_t> process_get_buffer_calls{0};
std::atomic<std::uint64_t> process_allocations{0};
std::atomic<std::uint64_t> process_frees{0};
std::atomic<std::uint64_t> all_allocations{0};
std::atomic<bool> self_test_detected{false};

// Volatile, so that the compiler keeps the self-test's allocation.
void* volatile probe = nullptr;

using GetBuffer = void* (*)(void*, std::uint32_t);
std::atomic<GetBuffer> real_get_buffer{nullptr};

void count_allocation() {
    all_allocations.fetch_add(1, std::memory_order_relaxed);
    if (on_process_thread) {
        process_allocations.fetch_add(1, std::memory_order_relaxed);
    }
}

/// Marks the calling thread and checks, with one allocation of its own, that the count sees it;
/// that allocation is then taken off the counts.
void mark_process_thread() {
    on_process_thread = true;
    const std::uint64_t allocations = process_allocations.load();
    const std::uint64_t frees = process_frees.load();
    probe = std::malloc(16);
    std::free(probe);
    self_test_detected.store(process_allocations.load() == allocations + 1 && process_frees.load() == frees + 1);
    process_allocations.fetch_sub(1);
    process_frees.fetch_sub(1);
}

__attribute__((destructor)) void write_report() {
    const char* path = std::getenv("LINETUNE_ALLOC_GUARD_REPORT");
    if (path == nullptr) {
        return;
    }
    if (std::FILE* file = std::fopen(path, "w")) {
        std::fprintf(file, "self_test_detected %d\nprocess_get_buffer_calls %llu\nprocess_allocations %llu\n"
                           "process_frees %llu\nall_allocations %llu\n",
                     self_test_detected.load() ? 1 : 0,
                     static_cast<unsigned long long>(process_get_buffer_calls.load()),
                     static_cast<unsigned long long>(process_allocations.load()),
                     static_cast<unsigned long long>(process_frees.load()),
                     static_cast<unsigned long long>(all_allocations.load()));
        std::fclose(file);
    }
}

}  // namespace

extern "C" {

void* malloc(std::size_t size) {
    count_allocation();
    return __libc_malloc(size);
}

void* calloc(std::size_t count, std::size_t size) {
    count_allocation();
    return __libc_calloc(count, size);
}

void* realloc(void* pointer, std::size_t size) {
    count_allocation();
    return __libc_realloc(pointer, size);
}

void free(void* pointer) {
    if (pointer != nullptr && on_process_thread) {
        process_frees.fetch_add(1, std::memory_order_relaxed);
    }
    __libc_free(pointer);
}

void* memalign(std::size_t alignment, std::size_t size) {
    count_allocation();
    return __libc_memalign(alignment, size);
}

void* aligned_alloc(std::size_t alignment, std::size_t size) {
    count_allocation();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void** pointer, std::size_t alignment, std::size_t size) {
    count_allocation();
    void* memory = __libc_memalign(alignment, size);
    if (memory == nullptr) {
        return ENOMEM;
    }
    *pointer = memory;
    return 0;
}

void* jack_port_get_buffer(void* port, std::uint32_t frames) {
    GetBuffer real = real_get_buffer.load(std::memory_order_acquire);
    if (real == nullptr) {
        real = reinterpret_cast<GetBuffer>(dlsym(RTLD_NEXT, "jack_port_get_buffer"));
        real_get_buffer.store(real, std::memory_order_release);
    }
    if (!on_process_thread) {
        mark_process_thread();
    }
    process_get_buffer_calls.fetch_add(1, std::memory_order_relaxed);
    return real(port, frames);
}

}  // extern "C"
