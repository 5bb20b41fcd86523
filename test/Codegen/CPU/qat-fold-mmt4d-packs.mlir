// RUN: qat-opt --qat-fold-mmt4d-packs --canonicalize %s | FileCheck %s

// An M-major LHS without padding is read in place: the product indexes the
// pack's reshape (m1, m0, k1, k0) instead of a transposed copy. The RHS's
// lanes (N) are not its contiguous dimension here, so it keeps its pack
// (lowered, as --qat-lower-pack-unpack would). The zero-filled accumulator
// becomes a zero fill of the unpacked layout (m1, m0, n1, n0).
// CHECK-DAG:   #[[LHS:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d2, d5)>
// CHECK-DAG:   #[[RHS:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d1, d2, d4, d5)>
// CHECK-DAG:   #[[OUT:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d1, d4)>
// CHECK-DAG:   #[[KMAJOR:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d2, d5, d1, d4)>
// CHECK-LABEL: func @m_major
// CHECK:         %[[A:.*]] = tensor.expand_shape %arg0 {{\[\[}}0, 1], [2, 3]] output_shape [4, 8, 27, 1]
// CHECK:         %[[B:.*]] = linalg.transpose
// CHECK:         %[[ACC:.*]] = linalg.fill {{.*}} -> tensor<4x8x2x16xf32>
// CHECK:         %[[P:.*]] = linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel", "reduction"]} ins(%[[A]], %[[B]] : tensor<4x8x27x1xf32>, tensor<2x27x16x1xf32>) outs(%[[ACC]] : tensor<4x8x2x16xf32>)
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         tensor.collapse_shape %[[P]] {{\[\[}}0, 1], [2, 3]] : tensor<4x8x2x16xf32> into tensor<32x32xf32>
// CHECK-NOT:     linalg.pack
// CHECK-NOT:     linalg.mmt4d
// CHECK-NOT:     linalg.unpack
func.func @m_major(%a: tensor<32x27xf32>, %b: tensor<32x27xf32>) -> tensor<32x32xf32> {
  %zero = arith.constant 0.0 : f32
  %pa0 = tensor.empty() : tensor<4x27x8x1xf32>
  %pa = linalg.pack %a padding_value(%zero : f32) inner_dims_pos = [0, 1] inner_tiles = [8, 1] into %pa0 : tensor<32x27xf32> -> tensor<4x27x8x1xf32>
  %pb0 = tensor.empty() : tensor<2x27x16x1xf32>
  %pb = linalg.pack %b padding_value(%zero : f32) inner_dims_pos = [0, 1] inner_tiles = [16, 1] into %pb0 : tensor<32x27xf32> -> tensor<2x27x16x1xf32>
  %acc0 = tensor.empty() : tensor<4x2x8x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%acc0 : tensor<4x2x8x16xf32>) -> tensor<4x2x8x16xf32>
  %p = linalg.mmt4d ins(%pa, %pb : tensor<4x27x8x1xf32>, tensor<2x27x16x1xf32>) outs(%acc : tensor<4x2x8x16xf32>) -> tensor<4x2x8x16xf32>
  %c0 = tensor.empty() : tensor<32x32xf32>
  %c = linalg.unpack %p inner_dims_pos = [0, 1] inner_tiles = [8, 16] into %c0 : tensor<4x2x8x16xf32> -> tensor<32x32xf32>
  return %c : tensor<32x32xf32>
}

// A K-major RHS (the weight gradient's im2col) has its lanes contiguous:
// read in place too, (k1, k0, n1, n0).
// CHECK-LABEL: func @k_major
// CHECK:         %[[A:.*]] = tensor.expand_shape %arg0
// CHECK:         %[[B:.*]] = tensor.expand_shape %arg1 {{\[\[}}0, 1], [2, 3]] output_shape [27, 1, 2, 16]
// CHECK:         linalg.generic {indexing_maps = [#[[LHS]], #[[KMAJOR]], #[[OUT]]], {{.*}} ins(%[[A]], %[[B]] : tensor<4x8x27x1xf32>, tensor<27x1x2x16xf32>)
// CHECK-NOT:     linalg.transpose
// CHECK-NOT:     linalg.pack
func.func @k_major(%a: tensor<32x27xf32>, %b: tensor<27x32xf32>) -> tensor<32x32xf32> {
  %zero = arith.constant 0.0 : f32
  %pa0 = tensor.empty() : tensor<4x27x8x1xf32>
  %pa = linalg.pack %a padding_value(%zero : f32) inner_dims_pos = [0, 1] inner_tiles = [8, 1] into %pa0 : tensor<32x27xf32> -> tensor<4x27x8x1xf32>
  %pb0 = tensor.empty() : tensor<2x27x16x1xf32>
  %pb = linalg.pack %b padding_value(%zero : f32) outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [16, 1] into %pb0 : tensor<27x32xf32> -> tensor<2x27x16x1xf32>
  %acc0 = tensor.empty() : tensor<4x2x8x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%acc0 : tensor<4x2x8x16xf32>) -> tensor<4x2x8x16xf32>
  %p = linalg.mmt4d ins(%pa, %pb : tensor<4x27x8x1xf32>, tensor<2x27x16x1xf32>) outs(%acc : tensor<4x2x8x16xf32>) -> tensor<4x2x8x16xf32>
  %c0 = tensor.empty() : tensor<32x32xf32>
  %c = linalg.unpack %p inner_dims_pos = [0, 1] inner_tiles = [8, 16] into %c0 : tensor<4x2x8x16xf32> -> tensor<32x32xf32>
  return %c : tensor<32x32xf32>
}

// Packs and unpacks that pad (M = 30, N = 20) stay copies.
// CHECK-LABEL: func @padded
// CHECK-COUNT-2: linalg.pack
// CHECK:         linalg.mmt4d
// CHECK:         linalg.unpack
func.func @padded(%a: tensor<30x27xf32>, %b: tensor<27x20xf32>) -> tensor<30x20xf32> {
  %zero = arith.constant 0.0 : f32
  %pa0 = tensor.empty() : tensor<4x27x8x1xf32>
  %pa = linalg.pack %a padding_value(%zero : f32) inner_dims_pos = [0, 1] inner_tiles = [8, 1] into %pa0 : tensor<30x27xf32> -> tensor<4x27x8x1xf32>
  %pb0 = tensor.empty() : tensor<2x27x16x1xf32>
  %pb = linalg.pack %b padding_value(%zero : f32) outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [16, 1] into %pb0 : tensor<27x20xf32> -> tensor<2x27x16x1xf32>
  %acc0 = tensor.empty() : tensor<4x2x8x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%acc0 : tensor<4x2x8x16xf32>) -> tensor<4x2x8x16xf32>
  %p = linalg.mmt4d ins(%pa, %pb : tensor<4x27x8x1xf32>, tensor<2x27x16x1xf32>) outs(%acc : tensor<4x2x8x16xf32>) -> tensor<4x2x8x16xf32>
  %c0 = tensor.empty() : tensor<30x20xf32>
  %c = linalg.unpack %p inner_dims_pos = [0, 1] inner_tiles = [8, 16] into %c0 : tensor<4x2x8x16xf32> -> tensor<30x20xf32>
  return %c : tensor<30x20xf32>
}

// An accumulator that is not a fresh zero fill stays in the packed layout.
// CHECK-LABEL: func @into_value
// CHECK:         linalg.mmt4d
// CHECK:         linalg.unpack
func.func @into_value(%pa: tensor<4x27x8x1xf32>, %pb: tensor<2x27x16x1xf32>, %acc: tensor<4x2x8x16xf32>) -> tensor<32x32xf32> {
  %p = linalg.mmt4d ins(%pa, %pb : tensor<4x27x8x1xf32>, tensor<2x27x16x1xf32>) outs(%acc : tensor<4x2x8x16xf32>) -> tensor<4x2x8x16xf32>
  %c0 = tensor.empty() : tensor<32x32xf32>
  %c = linalg.unpack %p inner_dims_pos = [0, 1] inner_tiles = [8, 16] into %c0 : tensor<4x2x8x16xf32> -> tensor<32x32xf32>
  return %c : tensor<32x32xf32>
}
