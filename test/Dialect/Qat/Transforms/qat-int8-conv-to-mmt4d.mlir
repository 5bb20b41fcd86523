// RUN: qat-opt --qat-int8-conv-to-mmt4d=lanes=16 %s | FileCheck %s

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
