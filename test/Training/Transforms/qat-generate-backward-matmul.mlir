// RUN: qat-opt --qat-generate-backward %s | FileCheck %s

// The matmul's gradients keep their innermost loop contiguous in every
// operand (the loops run on vectors with the reduction in registers): dA
// reads B transposed; with N = 10 classes (shorter than a vector) and K =
// 32, dB is computed as [B, N, K] and transposed back.

func.func @forward(%x: tensor<1x4x32xf32> {qat.state = "x", qat.trainable}, %w: tensor<1x32x10xf32> {qat.state = "w", qat.trainable}) -> tensor<4x10xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.matmul %x, %w, %zp, %zp : (tensor<1x4x32xf32>, tensor<1x32x10xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x10xf32>
  %shape = tosa.const_shape {values = dense<[4, 10]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %logits = tosa.reshape %y, %shape : (tensor<1x4x10xf32>, !tosa.shape<2>) -> tensor<4x10xf32>
  return %logits : tensor<4x10xf32>
}

// CHECK-DAG:   #[[G:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG:   #[[K_ROWS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG:   #[[OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG:   #[[G_T:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1)>
// CHECK-LABEL: func.func @loss_and_gradients(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<1x4x32xf32>
// CHECK-SAME:    %[[W:[^:]*]]: tensor<1x32x10xf32>
// CHECK:         %[[DY:.*]] = tosa.reshape {{.*}} -> tensor<1x4x10xf32>
// dA[b, m, k] = sum_n dY[b, m, n] W^T[b, n, k]: loops (b, m, n, k).
// CHECK:         %[[WT:.*]] = tosa.transpose %[[W]] {perms = array<i32: 0, 2, 1>} : (tensor<1x32x10xf32>) -> tensor<1x10x32xf32>
// CHECK:         %[[DX:.*]] = linalg.generic {indexing_maps = [#[[G]], #[[K_ROWS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%[[DY]], %[[WT]] : tensor<1x4x10xf32>, tensor<1x10x32xf32>) outs(%{{.*}} : tensor<1x4x32xf32>)
// dW^T[b, n, k] = sum_m dY[b, m, n] x[b, m, k]: loops (b, n, m, k).
// CHECK:         %[[DWT:.*]] = linalg.generic {indexing_maps = [#[[G_T]], #[[K_ROWS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%[[DY]], %[[X]] : tensor<1x4x10xf32>, tensor<1x4x32xf32>) outs(%{{.*}} : tensor<1x10x32xf32>)
// CHECK:         %[[DW:.*]] = tosa.transpose %[[DWT]] {perms = array<i32: 0, 2, 1>} : (tensor<1x10x32xf32>) -> tensor<1x32x10xf32>
// CHECK:         return {{.*}}, %[[DX]], %[[DW]]
