// RUN: qat-opt --qat-lower-mmt4d %s | FileCheck %s
// RUN: qat-opt --qat-lower-to-llvm="int8-isa=avx512vnni" %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v4 -mattr=+avx512vnni | FileCheck %s --check-prefix=ASM
// RUN: qat-opt --qat-lower-mmt4d=isa=avxvnni %s | FileCheck %s --check-prefix=AVXVNNI
// RUN: qat-opt --qat-lower-to-llvm="int8-isa=avxvnni" %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v3 -mattr=+avxvnni | FileCheck %s --check-prefix=AVXVNNI-ASM
// RUN: qat-opt --qat-lower-mmt4d=isa=dotprod %s | FileCheck %s --check-prefix=DOTPROD
// RUN: qat-opt --qat-lower-to-llvm="int8-isa=dotprod" %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=aarch64-unknown-linux-gnu -mattr=+dotprod | FileCheck %s --check-prefix=DOTPROD-ASM
// RUN: qat-opt --qat-lower-mmt4d=isa=avx2 %s | FileCheck %s --check-prefix=AVX2
// RUN: qat-opt --qat-lower-to-llvm="int8-isa=avx2" %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v3 | FileCheck %s --check-prefix=AVX2-ASM
// RUN: qat-opt --qat-lower-mmt4d=isa=avx2 %s | FileCheck %s --check-prefix=AVX2-PAIRS
// RUN: qat-opt --qat-lower-to-llvm="int8-isa=avx2" %s | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v3 | FileCheck %s --check-prefix=AVX2-PAIRS-ASM
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
// ASM-LABEL: mmt4d_kernel_0:
// ASM:         vpdpbusd {{.*}}{1to16}, %zmm{{[0-9]+}}, %zmm{{[0-9]+}}
// ASM-LABEL: mmt4d:
// ISA: --qat-lower-mmt4d: unknown isa 'sve' (avx512vnni, avxvnni, avx2 or dotprod)
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

// 8-lane RHS tiles: AVX-VNNI's ymm vpdpbusd, VEX-encoded for client chips.
// AVXVNNI-LABEL: func @mmt4d_8_lanes
// AVXVNNI:         arith.xori %{{.*}}, %{{.*}} : vector<32xi8>
// AVXVNNI:         llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"({{.*}}) : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
// AVXVNNI-ASM-LABEL: mmt4d_8_lanes_kernel_0:
// AVXVNNI-ASM:       {vex} vpdpbusd %ymm{{[0-9]+}}, %ymm{{[0-9]+}}, %ymm{{[0-9]+}}
// AVXVNNI-ASM-LABEL: mmt4d_8_lanes:
func.func @mmt4d_8_lanes(%lhs: memref<2x3x8x4xi8>, %rhs: memref<6x3x8x4xi8>, %out: memref<2x6x8x8xi32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x3x8x4xi8>, memref<6x3x8x4xi8>) outs(%out : memref<2x6x8x8xi32>)
  return
}

// 4-lane RHS tiles: AArch64 sdot, signed by signed: no flip, no surplus.
// DOTPROD-LABEL: func @mmt4d_4_lanes
// DOTPROD-NOT:     arith.xori
// DOTPROD:         llvm.call_intrinsic "llvm.aarch64.neon.sdot.v4i32.v16i8"({{.*}}) : (vector<4xi32>, vector<16xi8>, vector<16xi8>) -> vector<4xi32>
// DOTPROD-ASM-LABEL: mmt4d_4_lanes_kernel_0:
// DOTPROD-ASM:       sdot v{{[0-9]+}}.4s, v{{[0-9]+}}.16b, v{{[0-9]+}}.4b[0]
// DOTPROD-ASM-LABEL: mmt4d_4_lanes:
func.func @mmt4d_4_lanes(%lhs: memref<2x3x8x4xi8>, %rhs: memref<6x3x4x4xi8>, %out: memref<2x6x8x4xi32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x3x8x4xi8>, memref<6x3x4x4xi8>) outs(%out : memref<2x6x8x4xi32>)
  return
}

// AVX2 without VNNI: 6 x 2 LHS tiles of i16 (the codes widened when packed),
// 8 x 2 RHS tiles of bytes sign-extended to i16, vpmaddwd + vpaddd. N1 = 3:
// one pair of panels (12 accumulators), then the last panel alone (6).
// AVX2-LABEL: func @mmt4d_avx2
// AVX2-SAME:    (%[[LHS:.*]]: memref<2x5x6x2xi16>, %[[RHS:.*]]: memref<3x5x8x2xi8>, %[[OUT:.*]]: memref<2x3x6x8xi32>)
// AVX2-DAG:     %[[L:.*]] = memref.collapse_shape %[[LHS]] {{\[\[}}0], [1], [2, 3]] : memref<2x5x6x2xi16> into memref<2x5x12xi16>
// AVX2-DAG:     %[[R:.*]] = memref.collapse_shape %[[RHS]] {{\[\[}}0], [1], [2, 3]] : memref<3x5x8x2xi8> into memref<3x5x16xi8>
// AVX2-NOT:     arith.xori
// AVX2:         scf.for %[[M1:.*]] =
// AVX2:           scf.for %[[N1:.*]] = %c0{{(_[0-9]+)?}} to %{{.*}} step %{{.*}} {
// AVX2-COUNT-12:    vector.load %[[OUT]]
// AVX2:             scf.for %[[K1:.*]] = {{.*}} iter_args
// AVX2:               %[[W:.*]] = vector.load %[[R]][%[[N1]], %[[K1]], %{{.*}}] : memref<3x5x16xi8>, vector<16xi8>
// AVX2:               %[[W16:.*]] = arith.extsi %[[W]] : vector<16xi8> to vector<16xi16>
// AVX2:               vector.load %[[L]][%[[M1]], %[[K1]], %{{.*}}] : memref<2x5x12xi16>, vector<2xi16>
// AVX2:               %[[P:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%{{.*}}, %[[W16]]) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// AVX2:               arith.addi %{{.*}}, %[[P]] : vector<8xi32>
// AVX2-COUNT-12:    vector.store %{{.*}}, %[[OUT]]
// AVX2-COUNT-6:     vector.load %[[OUT]]
// AVX2:             scf.for
// AVX2-COUNT-6:     vector.store %{{.*}}, %[[OUT]]
// AVX2-NOT:     linalg.mmt4d
// The hot loop widens the RHS from memory and broadcasts LHS pairs.
// AVX2-ASM-LABEL: mmt4d_avx2_kernel_0:
// AVX2-ASM:         vpmovsxbw ({{.*}}), %ymm{{[0-9]+}}
// AVX2-ASM:         vpbroadcastd {{.*}}({{.*}}), %ymm{{[0-9]+}}
// AVX2-ASM:         vpmaddwd %ymm{{[0-9]+}}, %ymm{{[0-9]+}}, %ymm{{[0-9]+}}
// AVX2-ASM:         vpaddd
// AVX2-ASM-NOT:     vpmaddubsw
// AVX2-ASM-LABEL: mmt4d_avx2:
func.func @mmt4d_avx2(%lhs: memref<2x5x6x2xi16>, %rhs: memref<3x5x8x2xi8>, %out: memref<2x3x6x8xi32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x5x6x2xi16>, memref<3x5x8x2xi8>) outs(%out : memref<2x3x6x8xi32>)
  return
}

// A product proven not to saturate vpmaddubsw (qat.pairs_proven_unsaturated,
// from --qat-int8-conv-to-mmt4d) with 4 x 4 and 8 x 4 tiles of bytes: per
// RHS panel the surplus 128 * sum_k w (once), then per LHS panel the rows
// flipped to unsigned, vpmaddubsw, vpmaddwd with ones, vpaddd. N1 = 3: a
// pair of panels, then the last one alone, both in loops.
// AVX2-LABEL: func @mmt4d_proven_pairs
// AVX2-PAIRS-LABEL: func @mmt4d_proven_pairs
// AVX2-PAIRS-SAME:    (%[[LHS:.*]]: memref<2x5x4x4xi8>, %[[RHS:.*]]: memref<3x5x8x4xi8>, %[[OUT:.*]]: memref<2x3x4x8xi32>)
// AVX2-PAIRS:         scf.for %[[N1:.*]] = %c0{{(_[0-9]+)?}} to %{{.*}} step %{{.*}} {
// AVX2-PAIRS:           %[[SURPLUS:.*]]:2 = scf.for {{.*}} iter_args
// AVX2-PAIRS:             llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%[[FLIP:.*]], %{{.*}}) : (vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// AVX2-PAIRS:           scf.for %[[M1:.*]] =
// AVX2-PAIRS:             %[[C:.*]] = vector.load %[[OUT]][%[[M1]], %[[N1]], %{{.*}}, %{{.*}}] : memref<2x3x4x8xi32>, vector<8xi32>
// AVX2-PAIRS:             arith.subi %[[C]], %[[SURPLUS]]#0 : vector<8xi32>
// AVX2-PAIRS:             scf.for {{.*}} iter_args
// AVX2-PAIRS:               %[[ROW:.*]] = vector.bitcast %{{.*}} : vector<8xi32> to vector<32xi8>
// AVX2-PAIRS:               %[[U:.*]] = arith.xori %[[ROW]], %[[FLIP]] : vector<32xi8>
// AVX2-PAIRS:               %[[P:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%[[U]], %{{.*}}) : (vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// AVX2-PAIRS:               %[[Q:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%[[P]], %{{.*}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// AVX2-PAIRS:               arith.addi %{{.*}}, %[[Q]] : vector<8xi32>
// AVX2-PAIRS:         scf.for %{{.*}} = %c2{{.*}} to %c3{{.*}} step %c1{{.*}} {
// AVX2-PAIRS-NOT:     linalg.mmt4d
// AVX2-PAIRS-ASM-LABEL: mmt4d_proven_pairs_kernel_0:
// AVX2-PAIRS-ASM:         vpmaddubsw
// AVX2-PAIRS-ASM:         vpmaddwd
// AVX2-PAIRS-ASM-LABEL: mmt4d_proven_pairs:
func.func @mmt4d_proven_pairs(%lhs: memref<2x5x4x4xi8>, %rhs: memref<3x5x8x4xi8>, %out: memref<2x3x4x8xi32>) {
  linalg.mmt4d {qat.pairs_proven_unsaturated} ins(%lhs, %rhs : memref<2x5x4x4xi8>, memref<3x5x8x4xi8>) outs(%out : memref<2x3x4x8xi32>)
  return
}

// The same tiles without the proof: vpmaddubsw could saturate, so the
// product stays for the generic (exact) lowering.
// AVX2-PAIRS-LABEL: func @mmt4d_unproven_pairs
// AVX2-PAIRS:         linalg.mmt4d
// AVX2-PAIRS-NOT:     pmadd.ub.sw
func.func @mmt4d_unproven_pairs(%lhs: memref<2x5x4x4xi8>, %rhs: memref<3x5x8x4xi8>, %out: memref<2x3x4x8xi32>) {
  linalg.mmt4d ins(%lhs, %rhs : memref<2x5x4x4xi8>, memref<3x5x8x4xi8>) outs(%out : memref<2x3x4x8xi32>)
  return
}
