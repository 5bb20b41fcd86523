// RUN: qat-opt --qat-int8-conv-to-mmt4d=lanes=16 %s | FileCheck %s
// RUN: qat-opt --qat-int8-conv-to-mmt4d=isa=avx512vnni %s | FileCheck %s
// RUN: qat-opt --qat-int8-conv-to-mmt4d="isa=avx2 proven-pairs=false" %s | FileCheck %s --check-prefix=AVX2
// RUN: qat-opt --qat-int8-conv-to-mmt4d=isa=avx2 %s | FileCheck %s --check-prefix=PAIRS
// RUN: qat-opt --qat-int8-conv-to-mmt4d="isa=avx2 report=true" %s -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// RUN: not qat-opt --qat-int8-conv-to-mmt4d=isa=sse %s 2>&1 | FileCheck %s --check-prefix=ISA
// RUN: not qat-opt --qat-int8-conv-to-mmt4d=lanes=0 %s 2>&1 | FileCheck %s --check-prefix=LANES
// ISA: --qat-int8-conv-to-mmt4d: unknown isa 'sse' (avx512vnni, avxvnni, avx2 or dotprod)
// LANES: --qat-int8-conv-to-mmt4d: lanes must be between 1 and 64, not 0

// For AVX2's vpmaddwd: the codes themselves as i16 (no shift), 6 x 2 LHS
// tiles, 8 x 2 RHS tiles, and the zero-point restored as (0 - 3) * colsum.
// AVX2-LABEL: func @conv
// AVX2:         linalg.generic {{.*}} outs(%{{.*}} : tensor<2x3x3x1x2x2xi16>)
// AVX2-NOT:       arith.subi
// AVX2:           arith.trunci %{{.*}} : i32 to i16
// AVX2:         linalg.pack %{{.*}} padding_value(%{{.*}} : i16) inner_dims_pos = [0, 1] inner_tiles = [6, 2] into %{{.*}} : tensor<18x4xi16> -> tensor<3x2x6x2xi16>
// AVX2:         arith.constant dense<{{\[\[\[\[}}1, 2], [-1, -1], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]], {{\[\[}}-3, 4], [-1, -1], {{.*}}]]]> : tensor<1x2x8x2xi8>
// AVX2:         linalg.mmt4d ins(%{{.*}}, %{{.*}} : tensor<3x2x6x2xi16>, tensor<1x2x8x2xi8>) outs(%{{.*}} : tensor<3x1x6x8xi32>)
// AVX2:         linalg.unpack %{{.*}} inner_dims_pos = [0, 1] inner_tiles = [6, 8] into %{{.*}} : tensor<3x1x6x8xi32> -> tensor<18x2xi32>
// -3 * (1 + 2 - 3 + 4) = -12, -3 * (-1 - 1 - 1 - 1) = 12
// AVX2:         arith.constant dense<{{\[\[}}-12, 12]]> : tensor<1x2xi32>

// A convolution of uint8 codes minus their zero-point with constant int8
// weights: codes shifted to int8 (- 128), im2col, pack, mmt4d with the
// weights packed at compile time, unpack, + (128 - z) * colsum(W), back to
// NCHW.
// CHECK-LABEL: func @conv
// CHECK:         %[[COLS:.*]] = linalg.generic {{.*}} ins(%[[CODES:.*]] : tensor<2x1x4x4xi32>) outs(%{{.*}} : tensor<2x3x3x1x2x2xi8>)
// CHECK:           arith.subi %{{.*}}, %c128_i32
// CHECK:           arith.trunci %{{.*}} : i32 to i8
// CHECK:         %[[A:.*]] = tensor.collapse_shape %[[COLS]] {{.*}} into tensor<18x4xi8>
// CHECK:         %[[PA:.*]] = linalg.pack %[[A]] padding_value(%{{.*}} : i8) inner_dims_pos = [0, 1] inner_tiles = [8, 4] into %{{.*}} : tensor<18x4xi8> -> tensor<3x1x8x4xi8>
// The weights as one 16 x 4 tile: row f holds W[f] flattened, zero-padded.
// CHECK:         %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}1, 2, -3, 4], [-1, -1, -1, -1], [0, 0, 0, 0], {{.*}}]]]]> : tensor<1x1x16x4xi8>
// CHECK:         %[[ACC:.*]] = linalg.mmt4d ins(%[[PA]], %[[W]] : tensor<3x1x8x4xi8>, tensor<1x1x16x4xi8>) outs(%{{.*}} : tensor<3x1x8x16xi32>)
// CHECK:         %[[C:.*]] = linalg.unpack %[[ACC]] inner_dims_pos = [0, 1] inner_tiles = [8, 16] into %{{.*}} : tensor<3x1x8x16xi32> -> tensor<18x2xi32>
// (128 - 3) * (1 + 2 - 3 + 4) = 500, (128 - 3) * (-1 - 1 - 1 - 1) = -500
// CHECK:         %[[ZFIX:.*]] = arith.constant dense<{{\[\[}}500, -500]]> : tensor<1x2xi32>
// CHECK:         %[[FIX:.*]] = tosa.add %[[C]], %[[ZFIX]] : (tensor<18x2xi32>, tensor<1x2xi32>) -> tensor<18x2xi32>
// CHECK:         %[[R:.*]] = tensor.expand_shape %[[FIX]] {{.*}} : tensor<18x2xi32> into tensor<2x3x3x2xi32>
// CHECK:         %[[T:.*]] = linalg.transpose ins(%[[R]] : tensor<2x3x3x2xi32>) outs(%{{.*}} : tensor<2x2x3x3xi32>) permutation = [0, 3, 1, 2]
// CHECK-NOT:     linalg.conv_2d_nchw_fchw
// CHECK:         return %[[T]]
func.func @conv(%x: tensor<2x1x4x4xf32>) -> tensor<2x2x3x3xi32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %codes = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<2x1x4x4xf32>, tensor<f32>, tensor<i32> -> tensor<2x1x4x4xi32>
  %zr = arith.constant dense<3> : tensor<1x1x1x1xi32>
  %centered = tosa.sub %codes, %zr : (tensor<2x1x4x4xi32>, tensor<1x1x1x1xi32>) -> tensor<2x1x4x4xi32>
  %w8 = arith.constant dense<[[[[1, 2], [-3, 4]]], [[[-1, -1], [-1, -1]]]]> : tensor<2x1x2x2xi8>
  %w = arith.extsi %w8 : tensor<2x1x2x2xi8> to tensor<2x1x2x2xi32>
  %zero = arith.constant 0 : i32
  %init = tensor.empty() : tensor<2x2x3x3xi32>
  %fill = linalg.fill ins(%zero : i32) outs(%init : tensor<2x2x3x3xi32>) -> tensor<2x2x3x3xi32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%centered, %w : tensor<2x1x4x4xi32>, tensor<2x1x2x2xi32>) outs(%fill : tensor<2x2x3x3xi32>) -> tensor<2x2x3x3xi32>
  return %conv : tensor<2x2x3x3xi32>
}

// Non-constant weights stay a convolution.
// CHECK-LABEL: func @dynamic_weights
// CHECK:         linalg.conv_2d_nchw_fchw
func.func @dynamic_weights(%codes: tensor<1x1x3x3xi32>, %w: tensor<1x1x1x1xi32>) -> tensor<1x1x3x3xi32> {
  %zr = arith.constant dense<0> : tensor<1x1x1x1xi32>
  %centered = tosa.sub %codes, %zr : (tensor<1x1x3x3xi32>, tensor<1x1x1x1xi32>) -> tensor<1x1x3x3xi32>
  %init = tensor.empty() : tensor<1x1x3x3xi32>
  %conv = linalg.conv_2d_nchw_fchw ins(%centered, %w : tensor<1x1x3x3xi32>, tensor<1x1x1x1xi32>) outs(%init : tensor<1x1x3x3xi32>) -> tensor<1x1x3x3xi32>
  return %conv : tensor<1x1x3x3xi32>
}

// AVX2 with proven pairs (the default): @conv's small weights cannot
// saturate vpmaddubsw for any codes in [0, 255]: bytes (codes - 128), 4 x 4
// and 8 x 4 tiles, the product marked. @conv_saturating's pair (127, 127)
// can (255 * 254 > 32767): the exact kernel. The same weights on 7-bit codes
// (@conv_uint7, codes <= 127: 127 * 254 = 32258) are proven again.
// PAIRS-LABEL: func @conv
// PAIRS:         linalg.pack %{{.*}} inner_tiles = [4, 4] into %{{.*}} : tensor<18x4xi8> -> tensor<5x1x4x4xi8>
// PAIRS:         linalg.mmt4d {qat.pairs_proven_unsaturated} ins(%{{.*}}, %{{.*}} : tensor<5x1x4x4xi8>, tensor<1x1x8x4xi8>)
// PAIRS:         arith.constant dense<{{\[\[}}500, -500]]> : tensor<1x2xi32>
// PAIRS-LABEL: func @conv_saturating
// PAIRS:         linalg.mmt4d ins(%{{.*}}, %{{.*}} : tensor<3x2x6x2xi16>, tensor<1x2x8x2xi8>)
// PAIRS-LABEL: func @conv_uint7
// PAIRS:         linalg.mmt4d {qat.pairs_proven_unsaturated} ins(%{{.*}}, %{{.*}} : tensor<5x1x4x4xi8>, tensor<1x1x8x4xi8>)
// REPORT: remark: int8 convolution on avx2-vpmaddubsw: no weight pair can saturate for codes in [0, 255]
// REPORT: remark: int8 convolution on the exact avx2 kernel: the weights (127, 127) of output channel 1 at k = 2 could saturate vpmaddubsw for codes in [0, 255]
// REPORT: remark: int8 convolution on avx2-vpmaddubsw: no weight pair can saturate for codes in [0, 127]
func.func @conv_saturating(%x: tensor<2x1x4x4xf32>) -> tensor<2x2x3x3xi32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %codes = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<2x1x4x4xf32>, tensor<f32>, tensor<i32> -> tensor<2x1x4x4xi32>
  %zr = arith.constant dense<3> : tensor<1x1x1x1xi32>
  %centered = tosa.sub %codes, %zr : (tensor<2x1x4x4xi32>, tensor<1x1x1x1xi32>) -> tensor<2x1x4x4xi32>
  %w8 = arith.constant dense<[[[[1, 2], [-3, 4]]], [[[-1, -1], [127, 127]]]]> : tensor<2x1x2x2xi8>
  %w = arith.extsi %w8 : tensor<2x1x2x2xi8> to tensor<2x1x2x2xi32>
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<2x2x3x3xi32>
  %init = linalg.fill ins(%zero : i32) outs(%e : tensor<2x2x3x3xi32>) -> tensor<2x2x3x3xi32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%centered, %w : tensor<2x1x4x4xi32>, tensor<2x1x2x2xi32>) outs(%init : tensor<2x2x3x3xi32>) -> tensor<2x2x3x3xi32>
  return %y : tensor<2x2x3x3xi32>
}

func.func @conv_uint7(%x: tensor<2x1x4x4xf32>) -> tensor<2x2x3x3xi32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %codes = qat.quantize %x, %s, %z to ui8[0 : 127] : tensor<2x1x4x4xf32>, tensor<f32>, tensor<i32> -> tensor<2x1x4x4xi32>
  %zr = arith.constant dense<3> : tensor<1x1x1x1xi32>
  %centered = tosa.sub %codes, %zr : (tensor<2x1x4x4xi32>, tensor<1x1x1x1xi32>) -> tensor<2x1x4x4xi32>
  %w8 = arith.constant dense<[[[[1, 2], [-3, 4]]], [[[-1, -1], [127, 127]]]]> : tensor<2x1x2x2xi8>
  %w = arith.extsi %w8 : tensor<2x1x2x2xi8> to tensor<2x1x2x2xi32>
  %zero = arith.constant 0 : i32
  %e = tensor.empty() : tensor<2x2x3x3xi32>
  %init = linalg.fill ins(%zero : i32) outs(%e : tensor<2x2x3x3xi32>) -> tensor<2x2x3x3xi32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%centered, %w : tensor<2x1x4x4xi32>, tensor<2x1x2x2xi32>) outs(%init : tensor<2x2x3x3xi32>) -> tensor<2x2x3x3xi32>
  return %y : tensor<2x2x3x3xi32>
}
