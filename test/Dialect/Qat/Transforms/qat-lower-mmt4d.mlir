// RUN: qat-opt --qat-lower-mmt4d %s | FileCheck %s
// RUN: qat-opt --qat-lower-to-llvm="int8-isa=avx512vnni" %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v4 -mattr=+avx512vnni | FileCheck %s --check-prefix=ASM
// RUN: not qat-opt --qat-lower-mmt4d=isa=sve %s 2>&1 | FileCheck %s --check-prefix=ISA

// The AVX512-VNNI microkernel: per LHS panel the rows' compensation, then
// per RHS panel M0 accumulators in registers over K.
// CHECK-LABEL: func @mmt4d
// CHECK-SAME:    (%[[LHS:.*]]: memref<2x3x8x4xi8>, %[[RHS:.*]]: memref<5x3x16x4xi8>, %[[OUT:.*]]: memref<2x5x8x16xi32>)
// CHECK-DAG:     %[[L:.*]] = memref.collapse_shape %[[LHS]] {{\[\[}}0], [1], [2, 3]] : memref<2x3x8x4xi8> into memref<2x3x32xi8>
// CHECK-DAG:     %[[R:.*]] = memref.collapse_shape %[[RHS]] {{\[\[}}0], [1], [2, 3]] : memref<5x3x16x4xi8> into memref<5x3x64xi8>
// CHECK:         scf.for %[[M1:.*]] =
// CHECK:           scf.for %{{.*}} = {{.*}} iter_args
// CHECK-COUNT-8:     llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK:           scf.for %[[N1:.*]] =
// CHECK-COUNT-8:     vector.load %[[OUT]]
// CHECK:             scf.for %[[K1:.*]] = {{.*}} iter_args
// CHECK:               %[[W:.*]] = vector.load %[[R]][%[[N1]], %[[K1]], %{{.*}}] : memref<5x3x64xi8>, vector<64xi8>
// CHECK:               %[[WU:.*]] = arith.xori %[[W]], %{{.*}} : vector<64xi8>
// CHECK:               vector.load %[[L]][%[[M1]], %[[K1]], %{{.*}}] : memref<2x3x32xi8>, vector<4xi8>
// CHECK:               llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[WU]], %{{.*}}) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// CHECK-COUNT-8:     vector.store %{{.*}}, %[[OUT]]
// CHECK-NOT:     linalg.mmt4d
// The hot loop runs on vpdpbusd with zmm registers and broadcast LHS rows.
// ASM-LABEL: mmt4d:
// ASM:         vpdpbusd {{.*}}{1to16}, %zmm{{[0-9]+}}, %zmm{{[0-9]+}}
// ISA: --qat-lower-mmt4d: unknown isa 'sve' (avx512vnni)
func.func @mmt4d(%lhs: memref<2x3x8x4xi8>, %rhs: memref<5x3x16x4xi8>, %out: memref<2x5x8x16xi32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x3x8x4xi8>, memref<5x3x16x4xi8>) outs(%out : memref<2x5x8x16xi32>)
  return
}

// Tiles that do not fit the instruction stay for the generic lowering.
// CHECK-LABEL: func @other_tiles
// CHECK:         linalg.mmt4d
func.func @other_tiles(%lhs: memref<2x3x8x2xi8>, %rhs: memref<5x3x16x2xi8>, %out: memref<2x5x8x16xi32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x3x8x2xi8>, memref<5x3x16x2xi8>) outs(%out : memref<2x5x8x16xi32>)
  return
}
