// Invalid IR gives a located diagnostic and a non-zero exit, no crash.
// RUN: not qat-opt %s 2>&1 | FileCheck %s
// CHECK: errors.mlir:[[@LINE+3]]:8: error: 'qat.fake_quant' op quant_min (10) must be less than quant_max (0)

func.func @f(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %0 = qat.fake_quant %x, %s, %z to i8[10 : 0] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %0 : tensor<4xf32>
}
