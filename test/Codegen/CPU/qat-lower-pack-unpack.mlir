// RUN: qat-opt --qat-lower-pack-unpack %s | FileCheck %s

// CHECK-LABEL: func @pack_unpack
// CHECK-NOT:     linalg.pack
// CHECK:         tensor.pad
// CHECK:         tensor.expand_shape
// CHECK:         linalg.transpose
// CHECK-NOT:     linalg.unpack
// CHECK:         linalg.transpose
// CHECK:         tensor.collapse_shape
// CHECK:         %[[SLICE:.*]] = tensor.extract_slice
// The unpacked value is returned as it is, not copied into a new tensor.
// CHECK-NOT:     linalg.copy
// CHECK:         return %{{.*}}, %[[SLICE]]
func.func @pack_unpack(%a: tensor<10x6xi8>, %r: tensor<2x2x8x4xi32>) -> (tensor<2x2x8x4xi8>, tensor<13x7xi32>) {
  %z = arith.constant 0 : i8
  %e = tensor.empty() : tensor<2x2x8x4xi8>
  %p = linalg.pack %a padding_value(%z : i8) inner_dims_pos = [0, 1] inner_tiles = [8, 4] into %e : tensor<10x6xi8> -> tensor<2x2x8x4xi8>
  %eo = tensor.empty() : tensor<13x7xi32>
  %u = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [8, 4] into %eo : tensor<2x2x8x4xi32> -> tensor<13x7xi32>
  return %p, %u : tensor<2x2x8x4xi8>, tensor<13x7xi32>
}

// An unpack into a tensor with contents (a function argument) keeps the copy
// into it.
// CHECK-LABEL: func @unpack_into_argument
// CHECK:         %[[SLICE:.*]] = tensor.extract_slice
// CHECK:         %[[COPY:.*]] = linalg.copy ins(%[[SLICE]] : tensor<13x7xi32>) outs(%{{.*}} : tensor<13x7xi32>)
// CHECK:         return %[[COPY]]
func.func @unpack_into_argument(%r: tensor<2x2x8x4xi32>, %into: tensor<13x7xi32>) -> tensor<13x7xi32> {
  %u = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [8, 4] into %into : tensor<2x2x8x4xi32> -> tensor<13x7xi32>
  return %u : tensor<13x7xi32>
}

// A pack with one tile along N (a conv1 weight gradient's 9 im2col
// columns padded to 16) and one element per K tile moves only unit
// dimensions: the transpose is a reshape, so no copy. The same for an
// unpack of rows one at a time.
// CHECK-LABEL: func @unit_dim_transposes
// CHECK-SAME:    (%[[A:.*]]: tensor<50x9xf32>, %[[R:.*]]: tensor<5x3x1x8xf32>)
// CHECK:         %[[PADDED:.*]] = tensor.pad %[[A]] low[0, 0] high[0, 7]
// CHECK:         %[[TILED:.*]] = tensor.expand_shape %[[PADDED]] {{\[\[}}0, 1], [2, 3]] output_shape [50, 1, 1, 16] : tensor<50x16xf32> into tensor<50x1x1x16xf32>
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %[[TILED]] {{\[\[}}0, 1, 2, 3]] : tensor<50x1x1x16xf32> into tensor<800xf32>
// CHECK:         %[[PACKED:.*]] = tensor.expand_shape %[[FLAT]] {{\[\[}}0, 1, 2, 3]] output_shape [1, 50, 16, 1] : tensor<800xf32> into tensor<1x50x16x1xf32>
// CHECK:         %[[RFLAT:.*]] = tensor.collapse_shape %[[R]] {{\[\[}}0, 1, 2, 3]] : tensor<5x3x1x8xf32> into tensor<120xf32>
// CHECK:         tensor.expand_shape %[[RFLAT]] {{\[\[}}0, 1, 2, 3]] output_shape [5, 1, 3, 8] : tensor<120xf32> into tensor<5x1x3x8xf32>
// CHECK-NOT:     linalg.transpose
// CHECK:         return %[[PACKED]]
func.func @unit_dim_transposes(%a: tensor<50x9xf32>, %r: tensor<5x3x1x8xf32>) -> (tensor<1x50x16x1xf32>, tensor<5x20xf32>) {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x50x16x1xf32>
  %p = linalg.pack %a padding_value(%z : f32) outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [16, 1] into %e : tensor<50x9xf32> -> tensor<1x50x16x1xf32>
  %eo = tensor.empty() : tensor<5x20xf32>
  %u = linalg.unpack %r inner_dims_pos = [0, 1] inner_tiles = [1, 8] into %eo : tensor<5x3x1x8xf32> -> tensor<5x20xf32>
  return %p, %u : tensor<1x50x16x1xf32>, tensor<5x20xf32>
}

// Where a dimension of more than one element moves, the transpose stays.
// CHECK-LABEL: func @moving_transpose
// CHECK:         linalg.transpose ins(%{{.*}} : tensor<48x1x2x16xf32>) outs(%{{.*}} : tensor<2x48x16x1xf32>)
func.func @moving_transpose(%a: tensor<48x32xf32>) -> tensor<2x48x16x1xf32> {
  %e = tensor.empty() : tensor<2x48x16x1xf32>
  %p = linalg.pack %a outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [16, 1] into %e : tensor<48x32xf32> -> tensor<2x48x16x1xf32>
  return %p : tensor<2x48x16x1xf32>
}
