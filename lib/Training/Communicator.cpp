//===- Communicator.cpp - reductions over the replicas ----------*- C++ -*-===//
//
// Part of qat-mlir. The arithmetic every implementation shares, and the
// runtime function compiled data-parallel steps call.
//
//===----------------------------------------------------------------------===//

#include "qat/Training/Communicator.h"

#include "llvm/Support/ErrorHandling.h"

#include <atomic>
#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::qat;

Communicator::~Communicator() = default;

void mlir::qat::combineInRankOrder(llvm::ArrayRef<float> slices, int64_t count,
                                   ReduceKind kind,
                                   llvm::MutableArrayRef<float> out) {
  int64_t ranks = count == 0 ? 0 : slices.size() / count;
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 0; i < count; ++i) {
    float value = slices[i];
    for (int64_t rank = 1; rank < ranks; ++rank) {
      float next = slices[rank * count + i];
      switch (kind) {
      case ReduceKind::sum:
        value = value + next;
        break;
      case ReduceKind::min:
        value =
            std::isnan(value) || std::isnan(next) ? nan : std::min(value, next);
        break;
      case ReduceKind::max:
        value =
            std::isnan(value) || std::isnan(next) ? nan : std::max(value, next);
        break;
      }
    }
    out[i] = value;
  }
}

namespace {

std::atomic<Communicator *> stepCommunicator{nullptr};

/// MLIR's descriptor of a ranked memref behind an unranked one.
struct Descriptor {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[];
};

} // namespace

void mlir::qat::setStepCommunicator(Communicator *communicator) {
  stepCommunicator = communicator;
}

/// kAllReduceRuntimeFunction: a bufferized qat.all_reduce, on a contiguous
/// buffer of its own (BufferizableOpInterfaceImpl.cpp).
extern "C" void qat_all_reduce_f32(int64_t rank, void *descriptor,
                                   int32_t kind) {
  Communicator *communicator = stepCommunicator;
  if (!communicator)
    llvm::report_fatal_error("a data-parallel training step ran without a "
                             "communicator (setStepCommunicator)");
  auto *memref = static_cast<Descriptor *>(descriptor);
  int64_t count = 1;
  for (int64_t dim = 0; dim < rank; ++dim)
    count *= memref->sizes[dim];
  communicator->allReduce(
      llvm::MutableArrayRef<float>(memref->aligned + memref->offset, count),
      static_cast<ReduceKind>(kind));
}

void *mlir::qat::allReduceRuntimeFunction() {
  return reinterpret_cast<void *>(&qat_all_reduce_f32);
}
