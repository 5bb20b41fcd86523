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
