// RUN: qat-opt --qat-lower-mmt4d=isa= %s | FileCheck %s
// RUN: qat-opt --qat-lower-to-llvm %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v4 | FileCheck %s --check-prefix=ASM
// RUN: qat-opt "--qat-lower-mmt4d=isa= vector-bits=256 vector-registers=16" %s | FileCheck %s --check-prefix=AVX2
// RUN: qat-opt --qat-lower-to-llvm="vector-bits=256 vector-registers=16" %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v3 | FileCheck %s --check-prefix=AVX2-ASM
// RUN: not qat-opt "--qat-lower-mmt4d=vector-bits=100" %s 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not qat-opt "--qat-lower-mmt4d=vector-registers=0" %s 2>&1 | FileCheck %s --check-prefix=REGISTERS
// BITS: error: --qat-lower-mmt4d: vector-bits must be 128, 256 or 512, not 100
// REGISTERS: error: --qat-lower-mmt4d: vector-registers must be 8 to 64, not 0

// With AVX2's 16 ymm registers (a 16-lane vector is two of them), the 8
// rows of a pair of panels run in 4 groups of 2 rows (4 accumulators, 8
// ymm), each over all of K: the same sums, no accumulator spilled.
// AVX2-LABEL: func @mmt4d_f32
// AVX2:         scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c2
// AVX2-COUNT-4:   scf.for {{.*}} iter_args(%{{[^,]*}}, %{{[^,]*}}, %{{[^,]*}}, %{{[^,]*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// AVX2-ASM-LABEL: mmt4d_f32_kernel_0:
// AVX2-ASM-NOT:     32-byte Spill
// AVX2-ASM-LABEL: mmt4d_f32:

// The f32 microkernel (any isa): per LHS panel, RHS panels two at a time
// (16 accumulators of 16 lanes) and the odd last one alone (8), each over
// K with one broadcast per row and one FMA per row and panel. The LHS
// (64 rows) is the larger operand: its panels are the outer loop.
// CHECK-LABEL: func @mmt4d_f32
// CHECK-SAME:    (%[[LHS:.*]]: memref<8x7x8x1xf32>, %[[RHS:.*]]: memref<3x7x16x1xf32>, %[[OUT:.*]]: memref<8x3x8x16xf32>)
// CHECK:         %[[R:.*]] = memref.collapse_shape %[[RHS]] {{\[\[}}0], [1], [2, 3]] : memref<3x7x16x1xf32> into memref<3x7x16xf32>
// CHECK:         scf.for %[[M1:.*]] =
// CHECK:           scf.for %[[N1:.*]] = %{{.*}} to %{{.*}} step %c2
// CHECK-COUNT-16:    vector.load %[[OUT]]
// CHECK:             scf.for %[[K1:.*]] = {{.*}} iter_args
// CHECK:               vector.load %[[R]][%[[N1]], %[[K1]], %{{.*}}] : memref<3x7x16xf32>, vector<16xf32>
// CHECK:               vector.load %[[R]]
// CHECK:               %[[A:.*]] = memref.load %[[LHS]][%[[M1]], %[[K1]], %{{.*}}, %{{.*}}] : memref<8x7x8x1xf32>
// CHECK:               %[[ROW:.*]] = vector.broadcast %[[A]] : f32 to vector<16xf32>
// CHECK:               vector.fma %[[ROW]], %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:               vector.fma %[[ROW]]
// CHECK-COUNT-14:      vector.fma
// CHECK:             scf.yield
// CHECK-COUNT-16:    vector.store %{{.*}}, %[[OUT]]
// CHECK-COUNT-8:   vector.load %[[OUT]]
// CHECK:           scf.for
// CHECK-COUNT-8:     vector.fma
// CHECK-COUNT-8:   vector.store %{{.*}}, %[[OUT]]
// CHECK-NOT:     linalg.mmt4d
// The hot loop multiplies by broadcast memory operands on zmm registers.
// ASM-LABEL: mmt4d_f32_kernel_0:
// ASM:         vfmadd231ps {{.*}}{1to16}, %zmm{{[0-9]+}}, %zmm{{[0-9]+}}
// ASM-LABEL: mmt4d_f32:
func.func @mmt4d_f32(%lhs: memref<8x7x8x1xf32>, %rhs: memref<3x7x16x1xf32>, %out: memref<8x3x8x16xf32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<8x7x8x1xf32>, memref<3x7x16x1xf32>) outs(%out : memref<8x3x8x16xf32>)
  return
}

// A larger RHS (48 columns against 16 rows) is walked once by the outer
// loop, RHS panels two at a time, then the odd one; every LHS panel inside.
// CHECK-LABEL: func @wide_rhs
// CHECK:         scf.for %[[N1:.*]] = %{{.*}} to %{{.*}} step %c2
// CHECK:           scf.for %[[M1:.*]] =
// CHECK-COUNT-16:    vector.load
// CHECK:             scf.for
// CHECK-COUNT-16:      vector.fma
// CHECK:         scf.for %[[M1:.*]] =
// CHECK-COUNT-8:     vector.load
// CHECK:           scf.for
// CHECK-COUNT-8:     vector.fma
func.func @wide_rhs(%lhs: memref<2x7x8x1xf32>, %rhs: memref<3x7x16x1xf32>, %out: memref<2x3x8x16xf32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x7x8x1xf32>, memref<3x7x16x1xf32>) outs(%out : memref<2x3x8x16xf32>)
  return
}

// A thread's slice of M1 (a strided view) is lowered the same way.
// CHECK-LABEL: func @mmt4d_f32_view
// CHECK-NOT:     linalg.mmt4d
// CHECK:         vector.fma
func.func @mmt4d_f32_view(%lhs: memref<4x7x8x1xf32>, %rhs: memref<2x7x16x1xf32>, %out: memref<4x2x8x16xf32>) {
  %l = memref.subview %lhs[2, 0, 0, 0] [2, 7, 8, 1] [1, 1, 1, 1] : memref<4x7x8x1xf32> to memref<2x7x8x1xf32, strided<[56, 8, 1, 1], offset: 112>>
  %o = memref.subview %out[2, 0, 0, 0] [2, 2, 8, 16] [1, 1, 1, 1] : memref<4x2x8x16xf32> to memref<2x2x8x16xf32, strided<[256, 128, 16, 1], offset: 512>>
  linalg.mmt4d ins(%l, %rhs : memref<2x7x8x1xf32, strided<[56, 8, 1, 1], offset: 112>>, memref<2x7x16x1xf32>) outs(%o : memref<2x2x8x16xf32, strided<[256, 128, 16, 1], offset: 512>>)
  return
}

// Other f32 tiles stay for the generic lowering.
// CHECK-LABEL: func @other_f32_tiles
// CHECK:         linalg.mmt4d
func.func @other_f32_tiles(%lhs: memref<2x7x8x1xf32>, %rhs: memref<3x7x8x1xf32>, %out: memref<2x3x8x8xf32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x7x8x1xf32>, memref<3x7x8x1xf32>) outs(%out : memref<2x3x8x8xf32>)
  return
}

// --qat-fold-mmt4d-packs' products: mmt4d's loops and body on operands in
// other layouts become the same microkernel on transposed views (the LHS
// rows m0 and the accumulator's tiles read in place, a K-major RHS).
#lhs_rows = affine_map<(m1, n1, k1, m0, n0, k0) -> (m1, m0, k1, k0)>
#rhs_k_major = affine_map<(m1, n1, k1, m0, n0, k0) -> (k1, k0, n1, n0)>
#out_rows = affine_map<(m1, n1, k1, m0, n0, k0) -> (m1, m0, n1, n0)>
// CHECK-LABEL: func @transposed_operands
// CHECK-SAME:    (%[[LHS:.*]]: memref<2x8x7x1xf32>, %[[RHS:.*]]: memref<7x1x3x16xf32>, %[[OUT:.*]]: memref<2x8x3x16xf32>)
// CHECK-DAG:     %[[L:.*]] = memref.transpose %[[LHS]] (d0, d1, d2, d3) -> (d0, d2, d1, d3) : memref<2x8x7x1xf32> to memref<2x7x8x1xf32, strided<[56, 1, 7, 1]>>
// CHECK-DAG:     %[[R:.*]] = memref.transpose %[[RHS]] (d0, d1, d2, d3) -> (d2, d0, d3, d1) : memref<7x1x3x16xf32> to memref<3x7x16x1xf32, strided<[16, 48, 1, 48]>>
// CHECK-DAG:     %[[O:.*]] = memref.transpose %[[OUT]] (d0, d1, d2, d3) -> (d0, d2, d1, d3) : memref<2x8x3x16xf32> to memref<2x3x8x16xf32, strided<[384, 16, 48, 1]>>
// CHECK:         scf.for
// CHECK-COUNT-16:    vector.load %[[O]]
// CHECK:             memref.load %[[L]]
// CHECK:             vector.fma
// CHECK-NOT:     linalg.generic
func.func @transposed_operands(%lhs: memref<2x8x7x1xf32>, %rhs: memref<7x1x3x16xf32>, %out: memref<2x8x3x16xf32>) {
  linalg.generic {indexing_maps = [#lhs_rows, #rhs_k_major, #out_rows], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel", "reduction"]} ins(%lhs, %rhs : memref<2x8x7x1xf32>, memref<7x1x3x16xf32>) outs(%out : memref<2x8x3x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// Another body (a product without the sum) is not a matrix product.
// CHECK-LABEL: func @not_a_product
// CHECK:         linalg.generic
func.func @not_a_product(%lhs: memref<2x8x7x1xf32>, %rhs: memref<7x1x3x16xf32>, %out: memref<2x8x3x16xf32>) {
  linalg.generic {indexing_maps = [#lhs_rows, #rhs_k_major, #out_rows], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel", "reduction"]} ins(%lhs, %rhs : memref<2x8x7x1xf32>, memref<7x1x3x16xf32>) outs(%out : memref<2x8x3x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  }
  return
}

// A long K (a weight gradient's N*OH*OW) runs in blocks of 256 steps, each
// block over every panel: the accumulators go through memory between
// blocks, and every output still sums its terms in order.
// CHECK-LABEL: func @long_k
// CHECK-DAG:     %[[C256:.*]] = arith.constant 256 : index
// CHECK-DAG:     %[[C600:.*]] = arith.constant 600 : index
// CHECK:         scf.for %[[K:.*]] = %{{.*}} to %[[C600]] step %[[C256]] {
// CHECK:           %[[NEXT:.*]] = arith.addi %[[K]], %[[C256]]
// CHECK:           %[[END:.*]] = arith.minsi %[[NEXT]], %[[C600]]
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               scf.for %{{.*}} = %[[K]] to %[[END]] step
// CHECK:                 vector.fma
func.func @long_k(%lhs: memref<2x600x8x1xf32>, %rhs: memref<2x600x16x1xf32>, %out: memref<2x2x8x16xf32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x600x8x1xf32>, memref<2x600x16x1xf32>) outs(%out : memref<2x2x8x16xf32>)
  return
}

// An accumulator zero-filled just before the product: the fill goes and
// the accumulators start from +0.0 in registers (what the loads of the
// fill's zeros gave: the same sums).
// CHECK-LABEL: func @zero_filled_accumulator
// CHECK-SAME:    (%{{.*}}: memref<8x7x8x1xf32>, %{{.*}}: memref<3x7x16x1xf32>, %[[OUT:.*]]: memref<8x3x8x16xf32>)
// CHECK-NOT:     linalg.fill
// CHECK:         %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NOT:     vector.load %[[OUT]]
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[ZEROS]], %{{.*}} = %[[ZEROS]],
// CHECK:           vector.fma
// CHECK:         vector.store %{{.*}}, %[[OUT]]
// CHECK-NOT:     vector.load %[[OUT]]
// CHECK:         return
func.func @zero_filled_accumulator(%lhs: memref<8x7x8x1xf32>, %rhs: memref<3x7x16x1xf32>, %out: memref<8x3x8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<8x3x8x16xf32>)
  %c = arith.constant 1 : index
  linalg.mmt4d ins(%lhs, %rhs : memref<8x7x8x1xf32>, memref<3x7x16x1xf32>) outs(%out : memref<8x3x8x16xf32>)
  return
}

// Over a long K, the first block starts from zero and the blocks after it
// from memory.
// CHECK-LABEL: func @zero_filled_long_k
// CHECK-SAME:    (%{{.*}}: memref<2x600x8x1xf32>, %{{.*}}: memref<2x600x16x1xf32>, %[[OUT:.*]]: memref<2x2x8x16xf32>)
// CHECK-NOT:     linalg.fill
// CHECK-DAG:     %[[C256:.*]] = arith.constant 256 : index
// CHECK-DAG:     %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK:         scf.for %{{.*}} = %{{.*}} to %[[C256]] step %{{.*}} iter_args(%{{.*}} = %[[ZEROS]],
// CHECK:         scf.for %{{.*}} = %c256{{(_[0-9]+)?}} to %c600{{(_[0-9]+)?}} step %c256{{(_[0-9]+)?}} {
// CHECK:           vector.load %[[OUT]]
func.func @zero_filled_long_k(%lhs: memref<2x600x8x1xf32>, %rhs: memref<2x600x16x1xf32>, %out: memref<2x2x8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<2x2x8x16xf32>)
  linalg.mmt4d ins(%lhs, %rhs : memref<2x600x8x1xf32>, memref<2x600x16x1xf32>) outs(%out : memref<2x2x8x16xf32>)
  return
}

// Split over threads (--qat-parallelize-kernels), the fill's loop and the
// product's loop cover the same slice per iteration: the fill's loop goes.
#half = affine_map<(d0) -> (d0 * 4)>
// CHECK-LABEL: func @zero_filled_per_thread
// CHECK:         scf.parallel
// CHECK-NOT:       linalg.fill
// CHECK:           arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NOT:     scf.parallel
func.func @zero_filled_per_thread(%lhs: memref<8x7x8x1xf32>, %rhs: memref<3x7x16x1xf32>, %out: memref<8x3x8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.parallel (%i) = (%c0) to (%c2) step (%c1) {
    %m = affine.apply #half(%i)
    %o = memref.subview %out[%m, 0, 0, 0] [4, 3, 8, 16] [1, 1, 1, 1] : memref<8x3x8x16xf32> to memref<4x3x8x16xf32, strided<[384, 128, 16, 1], offset: ?>>
    linalg.fill ins(%zero : f32) outs(%o : memref<4x3x8x16xf32, strided<[384, 128, 16, 1], offset: ?>>)
    scf.reduce
  }
  %c0_0 = arith.constant 0 : index
  %c2_0 = arith.constant 2 : index
  scf.parallel (%i) = (%c0_0) to (%c2_0) step (%c1) {
    %m = affine.apply #half(%i)
    %l = memref.subview %lhs[%m, 0, 0, 0] [4, 7, 8, 1] [1, 1, 1, 1] : memref<8x7x8x1xf32> to memref<4x7x8x1xf32, strided<[56, 8, 1, 1], offset: ?>>
    %o = memref.subview %out[%m, 0, 0, 0] [4, 3, 8, 16] [1, 1, 1, 1] : memref<8x3x8x16xf32> to memref<4x3x8x16xf32, strided<[384, 128, 16, 1], offset: ?>>
    linalg.mmt4d ins(%l, %rhs : memref<4x7x8x1xf32, strided<[56, 8, 1, 1], offset: ?>>, memref<3x7x16x1xf32>) outs(%o : memref<4x3x8x16xf32, strided<[384, 128, 16, 1], offset: ?>>)
    scf.reduce
  }
  return
}

// The fill stays where the accumulator starts from anything else: another
// slice per iteration, another value, or a read of the zeros in between.
// CHECK-LABEL: func @other_slice_per_thread
// CHECK:         scf.parallel
// CHECK:           linalg.fill
// CHECK:         scf.parallel
// CHECK:           vector.load
func.func @other_slice_per_thread(%lhs: memref<8x7x8x1xf32>, %rhs: memref<3x7x16x1xf32>, %out: memref<8x3x8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.parallel (%i) = (%c0) to (%c2) step (%c1) {
    %m = affine.apply #half(%i)
    %o = memref.subview %out[%m, 0, 0, 0] [4, 3, 8, 16] [1, 1, 1, 1] : memref<8x3x8x16xf32> to memref<4x3x8x16xf32, strided<[384, 128, 16, 1], offset: ?>>
    linalg.fill ins(%zero : f32) outs(%o : memref<4x3x8x16xf32, strided<[384, 128, 16, 1], offset: ?>>)
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c2) step (%c1) {
    %m = affine.apply #half(%i)
    %flipped = arith.subi %c1, %i : index
    %n = affine.apply #half(%flipped)
    %l = memref.subview %lhs[%m, 0, 0, 0] [4, 7, 8, 1] [1, 1, 1, 1] : memref<8x7x8x1xf32> to memref<4x7x8x1xf32, strided<[56, 8, 1, 1], offset: ?>>
    %o = memref.subview %out[%n, 0, 0, 0] [4, 3, 8, 16] [1, 1, 1, 1] : memref<8x3x8x16xf32> to memref<4x3x8x16xf32, strided<[384, 128, 16, 1], offset: ?>>
    linalg.mmt4d ins(%l, %rhs : memref<4x7x8x1xf32, strided<[56, 8, 1, 1], offset: ?>>, memref<3x7x16x1xf32>) outs(%o : memref<4x3x8x16xf32, strided<[384, 128, 16, 1], offset: ?>>)
    scf.reduce
  }
  return
}

// CHECK-LABEL: func @nonzero_fill
// CHECK:         linalg.fill
// CHECK:         vector.load
func.func @nonzero_fill(%lhs: memref<8x7x8x1xf32>, %rhs: memref<3x7x16x1xf32>, %out: memref<8x3x8x16xf32>) {
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%out : memref<8x3x8x16xf32>)
  linalg.mmt4d ins(%lhs, %rhs : memref<8x7x8x1xf32>, memref<3x7x16x1xf32>) outs(%out : memref<8x3x8x16xf32>)
  return
}

// CHECK-LABEL: func @zeros_read_in_between
// CHECK:         linalg.fill
// CHECK:         memref.copy
// CHECK:         vector.load
func.func @zeros_read_in_between(%lhs: memref<8x7x8x1xf32>, %rhs: memref<3x7x16x1xf32>, %out: memref<8x3x8x16xf32>, %copy: memref<8x3x8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<8x3x8x16xf32>)
  memref.copy %out, %copy : memref<8x3x8x16xf32> to memref<8x3x8x16xf32>
  linalg.mmt4d ins(%lhs, %rhs : memref<8x7x8x1xf32>, memref<3x7x16x1xf32>) outs(%out : memref<8x3x8x16xf32>)
  return
}

// A product of --qat-fold-mmt4d-packs reads its accumulator through a
// transposed view of the filled buffer: the same elements.
// CHECK-LABEL: func @zero_filled_transposed
// CHECK-NOT:     linalg.fill
// CHECK:         arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NOT:     linalg.generic
func.func @zero_filled_transposed(%lhs: memref<2x8x7x1xf32>, %rhs: memref<7x1x3x16xf32>, %out: memref<2x8x3x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<2x8x3x16xf32>)
  linalg.generic {indexing_maps = [#lhs_rows, #rhs_k_major, #out_rows], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel", "reduction"]} ins(%lhs, %rhs : memref<2x8x7x1xf32>, memref<7x1x3x16xf32>) outs(%out : memref<2x8x3x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
