// Fake quantization to uint8 and its straight-through-estimator mask.
// qat-run docs/examples/fake-quant.mlir --entry main \
//     --input x.npy --input scale.npy --input zero_point.npy --output-dir out/

func.func @main(%x: tensor<8xf32>, %scale: tensor<f32>, %zero_point: tensor<i32>)
    -> (tensor<8xf32>, tensor<8xi1>) {
  %y = qat.fake_quant %x, %scale, %zero_point to ui8[0 : 255]
      : tensor<8xf32>, tensor<f32>, tensor<i32>
  %mask = qat.fake_quant_mask %x, %scale, %zero_point to ui8[0 : 255]
      : tensor<8xf32>, tensor<f32>, tensor<i32>
  return %y, %mask : tensor<8xf32>, tensor<8xi1>
}
