// RUN: qat-opt --qat-duplicate-fills %s | FileCheck %s

// One zero fill as the accumulator of two ops (what CSE leaves): each
// destination gets its own fill, so that bufferization writes both in
// place instead of copying the filled buffer. A use as an input is not a
// destination and keeps the original.
// CHECK-LABEL: func.func @two_accumulators
// CHECK:         %[[EMPTY:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK:         %[[FILL:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[EMPTY]] : tensor<4x8xf32>)
// CHECK:         %[[A:.*]] = linalg.add ins(%{{.*}}, %[[FILL]] : tensor<4x8xf32>, tensor<4x8xf32>) outs(%[[FILL]] : tensor<4x8xf32>)
// CHECK:         %[[FILL2:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[EMPTY]] : tensor<4x8xf32>)
// CHECK:         %[[B:.*]] = linalg.add ins(%[[A]], %[[A]] : tensor<4x8xf32>, tensor<4x8xf32>) outs(%[[FILL2]] : tensor<4x8xf32>)
// CHECK:         return %[[A]], %[[B]]
func.func @two_accumulators(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<4x8xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%empty : tensor<4x8xf32>) -> tensor<4x8xf32>
  %a = linalg.add ins(%x, %fill : tensor<4x8xf32>, tensor<4x8xf32>) outs(%fill : tensor<4x8xf32>) -> tensor<4x8xf32>
  %b = linalg.add ins(%a, %a : tensor<4x8xf32>, tensor<4x8xf32>) outs(%fill : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %a, %b : tensor<4x8xf32>, tensor<4x8xf32>
}

// A fill with one destination, or on buffers, is left alone.
// CHECK-LABEL: func.func @left_alone
// CHECK-COUNT-2: linalg.fill
// CHECK-NOT:     linalg.fill
func.func @left_alone(%x: tensor<4x8xf32>, %buffer: memref<4x8xf32>) -> tensor<4x8xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<4x8xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%empty : tensor<4x8xf32>) -> tensor<4x8xf32>
  %a = linalg.add ins(%x, %fill : tensor<4x8xf32>, tensor<4x8xf32>) outs(%fill : tensor<4x8xf32>) -> tensor<4x8xf32>
  linalg.fill ins(%zero : f32) outs(%buffer : memref<4x8xf32>)
  return %a : tensor<4x8xf32>
}
