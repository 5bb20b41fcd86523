//===- Communicator.h - the replicas of data-parallel training --*- C++ -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_TRAINING_COMMUNICATOR_H
#define QAT_TRAINING_COMMUNICATOR_H

#include "qat/Dialect/Qat/IR/QatOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace mlir::qat {

/// The processes (ranks) that train one model together, each on its share
/// of every global batch. Every collective is called by all ranks in the
/// same order.
class Communicator {
public:
  virtual ~Communicator();
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Element-wise `kind` of `values` over the ranks, in place. A sum is
  /// added in rank order, ((x_0 + x_1) + x_2) + ..., rounded to f32 at each
  /// step, and every rank receives the same bits (qat.all_reduce's
  /// contract); min and max propagate NaN.
  virtual void allReduce(llvm::MutableArrayRef<float> values,
                         ReduceKind kind) = 0;
  /// Exact sums of integers (counts).
  virtual void allReduce(llvm::MutableArrayRef<int64_t> values) = 0;
  /// Every rank's `values` (the same count on each), rank after rank.
  virtual std::vector<uint64_t> allGather(llvm::ArrayRef<uint64_t> values) = 0;
  /// Seconds this rank spent in allReduce of floats so far (the steps'
  /// reductions: transfers, sums, and waiting for slower ranks).
  virtual double secondsReducing() const = 0;
};

/// Combines equal slices of `count` values that rank 0, 1, ... contributed,
/// stored one after another in `slices`, into `out`, in rank order: the
/// arithmetic of Communicator::allReduce, shared by its implementations.
void combineInRankOrder(llvm::ArrayRef<float> slices, int64_t count,
                        ReduceKind kind, llvm::MutableArrayRef<float> out);

/// The MPI world (MPI_COMM_WORLD), initializing MPI if nobody has (as
/// mpi4py does in Python) and finalizing it at exit then. An error where
/// qat-mlir was built without MPI.
llvm::Expected<std::unique_ptr<Communicator>> createMpiCommunicator();

/// The communicator compiled data-parallel steps reduce over: their
/// qat.all_reduce calls kAllReduceRuntimeFunction, which reaches it. One per
/// process (the MPI world); null: none.
void setStepCommunicator(Communicator *communicator);
/// The address of kAllReduceRuntimeFunction, for JitOptions::symbols.
void *allReduceRuntimeFunction();

} // namespace mlir::qat

#endif // QAT_TRAINING_COMMUNICATOR_H
