//===- MpiCommunicator.cpp - the replicas as MPI ranks ----------*- C++ -*-===//
//
// Part of qat-mlir. MPI moves the bytes; the sums are added here, in rank
// order, because MPI_Allreduce promises no order (its algorithm depends on
// the message size and the rank count), and replicas must agree bit for
// bit. Without MPI (QAT_HAVE_MPI unset), asking for it is an error.
//
//===----------------------------------------------------------------------===//

#include "qat/Training/Communicator.h"

using namespace mlir;
using namespace mlir::qat;

#if !QAT_HAVE_MPI

llvm::Expected<std::unique_ptr<Communicator>>
mlir::qat::createMpiCommunicator() {
  return llvm::createStringError(
      "qat-mlir was built without MPI: install libopenmpi-dev and "
      "openmpi-bin, then configure again");
}

#else

#include <mpi.h>

#include <cstdlib>

namespace {

class MpiCommunicator final : public Communicator {
public:
  MpiCommunicator() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rankIndex);
    MPI_Comm_size(MPI_COMM_WORLD, &rankCount);
  }
  int rank() const override { return rankIndex; }
  int size() const override { return rankCount; }

  /// A reduce-scatter then an all-gather, both over equal shares: rank r
  /// receives everyone's share r (MPI_Alltoallv), combines it in rank
  /// order, and every rank gathers the combined shares. The bytes moved
  /// are a ring all-reduce's, 2 (P - 1) / P of the buffer per rank.
  void allReduce(llvm::MutableArrayRef<float> values,
                 ReduceKind kind) override {
    double start = MPI_Wtime();
    int64_t total = values.size();
    std::vector<int> counts(rankCount), offsets(rankCount);
    for (int r = 0; r < rankCount; ++r) {
      offsets[r] = static_cast<int>(total * r / rankCount);
      counts[r] = static_cast<int>(total * (r + 1) / rankCount) - offsets[r];
    }
    int mine = counts[rankIndex];
    std::vector<int> receiveCounts(rankCount, mine), receiveOffsets(rankCount);
    for (int r = 0; r < rankCount; ++r)
      receiveOffsets[r] = r * mine;
    received.resize(static_cast<size_t>(mine) * rankCount);
    MPI_Alltoallv(values.data(), counts.data(), offsets.data(), MPI_FLOAT,
                  received.data(), receiveCounts.data(), receiveOffsets.data(),
                  MPI_FLOAT, MPI_COMM_WORLD);
    combined.resize(mine);
    combineInRankOrder(received, mine, kind, combined);
    MPI_Allgatherv(combined.data(), mine, MPI_FLOAT, values.data(),
                   counts.data(), offsets.data(), MPI_FLOAT, MPI_COMM_WORLD);
    reducing += MPI_Wtime() - start;
  }
  double secondsReducing() const override { return reducing; }

  void allReduce(llvm::MutableArrayRef<int64_t> values) override {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                  MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  }

  std::vector<uint64_t> allGather(llvm::ArrayRef<uint64_t> values) override {
    std::vector<uint64_t> all(values.size() * rankCount);
    MPI_Allgather(values.data(), static_cast<int>(values.size()), MPI_UINT64_T,
                  all.data(), static_cast<int>(values.size()), MPI_UINT64_T,
                  MPI_COMM_WORLD);
    return all;
  }

private:
  int rankIndex = 0, rankCount = 1;
  double reducing = 0;
  std::vector<float> received, combined;
};

void finalizeMpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized)
    MPI_Finalize();
}

} // namespace

llvm::Expected<std::unique_ptr<Communicator>>
mlir::qat::createMpiCommunicator() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // Serialized: the Python API may call steps from several threads, one
    // at a time.
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) !=
        MPI_SUCCESS)
      return llvm::createStringError("cannot initialize MPI");
    std::atexit(finalizeMpi);
  }
  return std::make_unique<MpiCommunicator>();
}

#endif // QAT_HAVE_MPI
