// Post-training calibration of per-tensor activation quantization, as a
// pure function: a moving-average min/max observer runs over the calibration
// batches (its state threaded through an scf.for), the range gives uint8 and
// uint4 quantization parameters, and the test images are fake-quantized with
// both, together with the straight-through-estimator masks.
//
// Run it with:  qat-run calibrate.mlir --entry calibrate --input calib.npy \
//                 --input test.npy --output-dir out/

func.func @calibrate(%calib: tensor<16x256x28x28xf32>,
                     %test: tensor<10000x28x28xf32>)
    -> (tensor<f32>, tensor<f32>,
        tensor<f32>, tensor<i32>, tensor<10000x28x28xf32>, tensor<10000x28x28xi1>,
        tensor<f32>, tensor<i32>, tensor<10000x28x28xf32>, tensor<10000x28x28xi1>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %batches = arith.constant 16 : index
  %unobserved_min = arith.constant dense<0x7F800000> : tensor<f32>
  %unobserved_max = arith.constant dense<0xFF800000> : tensor<f32>
  %min, %max = scf.for %i = %c0 to %batches step %c1
      iter_args(%lo = %unobserved_min, %hi = %unobserved_max)
      -> (tensor<f32>, tensor<f32>) {
    %batch = tensor.extract_slice %calib[%i, 0, 0, 0] [1, 256, 28, 28] [1, 1, 1, 1]
        : tensor<16x256x28x28xf32> to tensor<256x28x28xf32>
    %lo2, %hi2 = qat.observe_moving_average_min_max %batch, %lo, %hi
        averaging_constant 0.01 : tensor<256x28x28xf32>, tensor<f32>
    scf.yield %lo2, %hi2 : tensor<f32>, tensor<f32>
  }

  %s8, %z8 = qat.choose_qparams affine %min, %max to ui8[0 : 255] : tensor<f32>
  %q8 = qat.fake_quant %test, %s8, %z8 to ui8[0 : 255]
      : tensor<10000x28x28xf32>, tensor<f32>, tensor<i32>
  %m8 = qat.fake_quant_mask %test, %s8, %z8 to ui8[0 : 255]
      : tensor<10000x28x28xf32>, tensor<f32>, tensor<i32>

  %s4, %z4 = qat.choose_qparams affine %min, %max to ui4[0 : 15] : tensor<f32>
  %q4 = qat.fake_quant %test, %s4, %z4 to ui4[0 : 15]
      : tensor<10000x28x28xf32>, tensor<f32>, tensor<i32>
  %m4 = qat.fake_quant_mask %test, %s4, %z4 to ui4[0 : 15]
      : tensor<10000x28x28xf32>, tensor<f32>, tensor<i32>

  return %min, %max, %s8, %z8, %q8, %m8, %s4, %z4, %q4, %m4
      : tensor<f32>, tensor<f32>,
        tensor<f32>, tensor<i32>, tensor<10000x28x28xf32>, tensor<10000x28x28xi1>,
        tensor<f32>, tensor<i32>, tensor<10000x28x28xf32>, tensor<10000x28x28xi1>
}
