// A range that does not fit its storage type.

func.func @forward(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>)
    -> tensor<4xf32> {
  %0 = qat.fake_quant %x, %s, %z to i8[0 : 255]
      : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %0 : tensor<4xf32>
}
