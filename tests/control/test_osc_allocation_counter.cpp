// Replaces the global operator new and delete of the control test program. They behave like the
// standard ones and also count the bytes requested while counting is on, so that the OSC tests
// can bound what the decoder allocates. They live in their own file because GCC warns about
// new/delete pairs that it sees inlined next to a replacement (-Wmismatched-new-delete).

#include "test_osc_support.hpp"

#include <cstdlib>
#include <new>

namespace {

thread_local bool counting_allocations = false;
thread_local std::size_t allocated_bytes = 0;

}  // namespace

void linetune::test::start_counting_allocations() {
    allocated_bytes = 0;
    counting_allocations = true;
}

std::size_t linetune::test::stop_counting_allocations() {
    counting_allocations = false;
    return allocated_bytes;
}

void* operator new(std::size_t size) {
    if (counting_allocations) {
        allocated_bytes += size;
    }
    if (void* memory = std::malloc(size == 0 ? 1 : size)) {
        return memory;
    }
    throw std::bad_alloc();
}

void operator delete(void* memory) noexcept { std::free(memory); }

void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
