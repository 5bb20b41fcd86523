// A misspelled op: qat-run reports it with its location.

func.func @forward(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>)
    -> tensor<4xf32> {
  %0 = qat.fake_quantize %x, %s, %z to i8[-128 : 127]
      : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %0 : tensor<4xf32>
}
