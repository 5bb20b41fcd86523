// Where the replicas of a data-parallel step meet, through the lowering:
// observers and synchronized batch norms gain their qat.all_reduce ops, a
// replicated parameter becomes its value (bufferization:
// Dialect/Qat/Transforms/all-reduce-bufferize.mlir).
// RUN: qat-opt --convert-qat-to-tosa --convert-qat-to-linalg %s | FileCheck %s

// The global range is reduced before it meets the state.
// CHECK-LABEL: func.func @observer(
// CHECK:         %[[R:.*]]:2 = linalg.generic
// CHECK:         %[[LO:.*]] = qat.all_reduce min %[[R]]#0 : tensor<f32>
// CHECK:         %[[HI:.*]] = qat.all_reduce max %[[R]]#1 : tensor<f32>
// CHECK:         linalg.generic {{.*}} ins(%[[LO]], %[[HI]], %{{.*}}, %{{.*}} :
func.func @observer(%x: tensor<8x4xf32>, %lo: tensor<f32>, %hi: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %a, %b = qat.observe_min_max %x, %lo, %hi across_replicas : tensor<8x4xf32>, tensor<f32>
  return %a, %b : tensor<f32>, tensor<f32>
}

// The two per-channel sums of the global batch's statistics, and the
// counts of 2 replicas: 1 / (2 * 8 * 3 * 3) = 1 / 144.
// CHECK-LABEL: func.func @sync_batch_norm(
// CHECK-COUNT-2: qat.all_reduce sum %{{.*}} : tensor<1x4x1x1xf32>
// CHECK-NOT:     qat.all_reduce
// CHECK:         return
func.func @sync_batch_norm(%x: tensor<8x4x3x3xf32>, %c: tensor<4xf32>) -> tensor<8x4x3x3xf32> {
  %y:3 = qat.batch_norm %x, %c, %c, %c, %c training epsilon 1.0e-05 momentum 0.1 replicas 2 : tensor<8x4x3x3xf32>, tensor<4xf32>
  return %y#0 : tensor<8x4x3x3xf32>
}

// CHECK-LABEL: func.func @replicated(
// CHECK-NEXT:    return %arg0
func.func @replicated(%w: tensor<4xf32>) -> tensor<4xf32> {
  %0 = qat.replicated_parameter %w replicas 2 : tensor<4xf32>
  return %0 : tensor<4xf32>
}
