// RUN: qat-opt --qat-prepare --split-input-file --verify-diagnostics %s
// RUN: not qat-opt "--qat-prepare=weights=per-row" --split-input-file %s 2>&1 | FileCheck %s --check-prefix=OPTION
// RUN: not qat-opt "--qat-prepare=activations=uint4" --split-input-file %s 2>&1 | FileCheck %s --check-prefix=OPTION-ACT

// OPTION: qat-prepare: unknown weights 'per-row' (expected per-tensor or per-channel)
// OPTION-ACT: qat-prepare: unknown activations 'uint4' (expected uint8, uint7 or int8)

// A layer whose weight is not a parameter (qat.state) cannot be quantized.
func.func @forward(%w: tensor<2x2x1x1xf32>, %x: tensor<1x2x2x2xf32> {qat.input = "x"}) -> tensor<1x2x2x2xf32> {
  %0 = tensor.empty() : tensor<1x2x2x2xf32>
  // expected-error @+1 {{qat-prepare: the weight of this layer is not a parameter of 'forward'; cannot quantize it}}
  %1 = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x2x2x2xf32>, tensor<2x2x1x1xf32>) outs(%0 : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %1 : tensor<1x2x2x2xf32>
}

// -----

// expected-error @+1 {{qat-prepare: 'forward' already has fake quantization (prepared twice?)}}
func.func @forward(%x: tensor<4xf32> {qat.input = "x"}, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %0 = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %0 : tensor<4xf32>
}

// -----

// expected-error @+1 {{qat-prepare: no function has qat.input arguments (expected a module from qat-import)}}
module {
  func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}
