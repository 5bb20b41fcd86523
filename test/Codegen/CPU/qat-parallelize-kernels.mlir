// RUN: qat-opt --qat-parallelize-kernels %s | FileCheck %s
// RUN: qat-opt --qat-parallelize-kernels="threads=1" %s | FileCheck %s --check-prefix=ONE
// RUN: qat-opt %s --qat-lower-to-llvm="threads=2" | FileCheck %s --check-prefix=LLVM
// RUN: not qat-opt --qat-parallelize-kernels="threads=0" %s 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: error: --qat-parallelize-kernels: threads and min-iterations must be at least 1

// Large ops are split along their outermost parallel loop into one tile per
// thread; reductions stay whole in each tile; small ops stay as they are.

// CHECK-LABEL: func.func @matmul
// CHECK:         scf.forall (%[[T:.*]]) in (2) shared_outs(%{{.*}} = %{{.*}})
// CHECK:           linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<32x64xf32>, tensor<64x48xf32>) outs(%{{.*}} : tensor<32x48xf32>)
// CHECK:           scf.forall.in_parallel
// ONE-LABEL: func.func @matmul
// ONE-NOT:     scf.forall
// The fill stays sequential; the matmul's tiles become an OpenMP loop.
// LLVM-LABEL: llvm.func @matmul_kernel_0(
// LLVM-NOT:     omp.parallel
// LLVM-LABEL: llvm.func @matmul_kernel_1(
// LLVM:         omp.parallel
// LLVM:           omp.wsloop
func.func @matmul(%a: tensor<64x64xf32>, %b: tensor<64x48xf32>) -> tensor<64x48xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x48xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x48xf32>) -> tensor<64x48xf32>
  %0 = linalg.matmul ins(%a, %b : tensor<64x64xf32>, tensor<64x48xf32>) outs(%init : tensor<64x48xf32>) -> tensor<64x48xf32>
  return %0 : tensor<64x48xf32>
}

// CHECK-LABEL: func.func @small
// CHECK-NOT:     scf.forall
func.func @small(%a: tensor<8x8xf32>, %b: tensor<8x8xf32>, %c: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<8x8xf32>, tensor<8x8xf32>) outs(%c : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %0 : tensor<8x8xf32>
}

// A large pad of a constant becomes a fill of the padded tensor and a copy
// into its interior, each split over the threads; the interior slice is
// written in place (one buffer, no copy of the whole tensor).
// CHECK-LABEL: func.func @pad
// CHECK-SAME:    (%[[X:.*]]: tensor<64x16x14x14xf32>)
// CHECK-NOT:     tensor.pad
// CHECK:         %[[EMPTY:.*]] = tensor.empty() : tensor<64x16x16x16xf32>
// CHECK:         %[[FILLED:.*]] = scf.forall (%{{.*}}) in (2) shared_outs(%{{.*}} = %[[EMPTY]])
// CHECK:           linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<32x16x16x16xf32>)
// CHECK:         %[[INTERIOR:.*]] = tensor.extract_slice %[[FILLED]][0, 0, 1, 1] [64, 16, 14, 14] [1, 1, 1, 1]
// CHECK:         %[[COPIED:.*]] = scf.forall (%{{.*}}) in (2) shared_outs(%{{.*}} = %[[INTERIOR]])
// CHECK:           linalg.copy ins(%{{.*}} : tensor<32x16x14x14xf32>) outs(%{{.*}} : tensor<32x16x14x14xf32>)
// CHECK:         %[[PADDED:.*]] = tensor.insert_slice %[[COPIED]] into %[[FILLED]][0, 0, 1, 1] [64, 16, 14, 14] [1, 1, 1, 1]
// CHECK:         return %[[PADDED]]
// ONE-LABEL: func.func @pad
// ONE:         tensor.pad
// One buffer, filled and then copied into by two parallel kernels.
// LLVM-LABEL: llvm.func @pad_kernel_0(
// LLVM:         omp.parallel
// LLVM-LABEL: llvm.func @pad_kernel_1(
// LLVM:         omp.parallel
// LLVM-LABEL: llvm.func @pad(
// LLVM:         llvm.call @malloc
// LLVM-NOT:     llvm.call @malloc
// LLVM:         llvm.call @pad_kernel_0(%{{.*}}) : (i64, i64, i64,
// LLVM-NOT:     llvm.call @malloc
// LLVM:         llvm.call @pad_kernel_1(%{{.*}}) : (i64, i64, i64,
// LLVM-NOT:     llvm.call @malloc
// LLVM:         llvm.return
func.func @pad(%x: tensor<64x16x14x14xf32>) -> tensor<64x16x16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%n: index, %c: index, %h: index, %w: index):
    tensor.yield %zero : f32
  } : tensor<64x16x14x14xf32> to tensor<64x16x16x16xf32>
  return %padded : tensor<64x16x16x16xf32>
}

// A padding constant defined inside the pad's region is copied out of it.
// CHECK-LABEL: func.func @pad_constant_inside
// CHECK:         %[[PADDING:.*]] = arith.constant 1.000000e+00 : f32
// CHECK:         scf.forall
// CHECK:           linalg.fill ins(%[[PADDING]] : f32)
func.func @pad_constant_inside(%x: tensor<64x16x14x14xf32>) -> tensor<64x16x16x16xf32> {
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%n: index, %c: index, %h: index, %w: index):
    %one = arith.constant 1.0 : f32
    tensor.yield %one : f32
  } : tensor<64x16x14x14xf32> to tensor<64x16x16x16xf32>
  return %padded : tensor<64x16x16x16xf32>
}

// Small pads, and pads of values that depend on the position, stay.
// CHECK-LABEL: func.func @pads_that_stay
// CHECK:         tensor.pad
// CHECK:         tensor.pad
func.func @pads_that_stay(%x: tensor<2x14x14xf32>, %y: tensor<64x16x14x14xf32>) -> (tensor<2x16x16xf32>, tensor<64x16x16x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %small = tensor.pad %x low[0, 1, 1] high[0, 1, 1] {
  ^bb0(%c: index, %h: index, %w: index):
    tensor.yield %zero : f32
  } : tensor<2x14x14xf32> to tensor<2x16x16xf32>
  %ramp = tensor.pad %y low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%n: index, %c: index, %h: index, %w: index):
    %i = arith.index_cast %h : index to i32
    %f = arith.sitofp %i : i32 to f32
    tensor.yield %f : f32
  } : tensor<64x16x14x14xf32> to tensor<64x16x16x16xf32>
  return %small, %ramp : tensor<2x16x16xf32>, tensor<64x16x16x16xf32>
}
