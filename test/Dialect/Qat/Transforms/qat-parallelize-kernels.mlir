// RUN: qat-opt --qat-parallelize-kernels %s | FileCheck %s
// RUN: qat-opt --qat-parallelize-kernels="threads=1" %s | FileCheck %s --check-prefix=ONE
// RUN: qat-opt %s --qat-lower-to-llvm="threads=2" | FileCheck %s --check-prefix=LLVM

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
