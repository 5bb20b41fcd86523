// RUN: qat-opt --qat-frozen-bn-forward %s | FileCheck %s
// A second run (a checkpoint that has the twin) changes nothing.
// RUN: qat-opt --qat-frozen-bn-forward %s | qat-opt --qat-frozen-bn-forward | FileCheck %s
// RUN: qat-opt "--qat-frozen-bn-forward=function=frozen" %s | FileCheck %s --check-prefix=NAMED
// RUN: not qat-opt --qat-frozen-bn-forward=forward=no_bn %s 2>&1 | FileCheck %s --check-prefix=NOBN

// @forward stays as it is; its private twin normalizes with the running
// statistics (no `training`) and is otherwise the same.
// CHECK-LABEL: func.func @forward(
// CHECK:         qat.batch_norm {{.*}} training
// CHECK-LABEL: func.func private @forward_frozen_bn(
// CHECK-SAME:    %{{.*}}: tensor<2x3x4x4xf32> {qat.input = "x"}
// CHECK-NOT:     training
// CHECK:         qat.batch_norm
// CHECK-NOT:     training
// CHECK:         return
// CHECK-NOT:   func.func private @forward_frozen_bn(

// NAMED: func.func private @frozen(

// NOBN: error: --qat-frozen-bn-forward: 'no_bn' has no batch norm in training mode to freeze (as qat-train --freeze-bn-after-epochs needs)

func.func @forward(%x: tensor<2x3x4x4xf32> {qat.input = "x"}, %c: tensor<3xf32> {qat.state = "bn.weight", qat.trainable}) -> tensor<2x3x4x4xf32> {
  %y:3 = qat.batch_norm %x, %c, %c, %c, %c training epsilon 1.0e-05 momentum 0.1 : tensor<2x3x4x4xf32>, tensor<3xf32>
  return %y#0 : tensor<2x3x4x4xf32>
}

func.func @no_bn(%x: tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32> {
  return %x : tensor<2x3x4x4xf32>
}
