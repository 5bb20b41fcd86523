// RUN: qat-opt --qat-fold-quant --split-input-file --verify-diagnostics %s
// RUN: not qat-opt --qat-fold-quant=function=predict --split-input-file %s 2>&1 | FileCheck %s --check-prefix=MISSING

// MISSING: no function 'predict'

// A sigmoid between two quantized values has no integer form.
func.func @forward_eval(%x: tensor<4xf32> {qat.input = "x"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}) -> tensor<4xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  // expected-error @+1 {{--qat-fold-quant: 'tosa.sigmoid' computes in float on the way from the input to the outputs and has no integer form}}
  %y = tosa.sigmoid %xq : (tensor<4xf32>) -> tensor<4xf32>
  %yq = qat.fake_quant %y, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<4xf32>
}

// -----

// A layer whose weight was never fake-quantized.
func.func @forward_eval(%x: tensor<1x1x2x2xf32> {qat.input = "x"}, %w: tensor<2x1x1x1xf32> {qat.state = "w"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}) -> tensor<1x2x2x2xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<1x1x2x2xf32>, tensor<f32>, tensor<i32>
  %init = tensor.empty() : tensor<1x2x2x2xf32>
  // expected-error @+1 {{--qat-fold-quant: 'linalg.conv_2d_nchw_fchw' is a layer whose input, weight or output is not fake-quantized; its quantization parameters are missing}}
  %conv = linalg.conv_2d_nchw_fchw ins(%xq, %w : tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) outs(%init : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %yq = qat.fake_quant %conv, %s, %z to ui8[0 : 255] : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<1x2x2x2xf32>
}

// -----

// Two different grids meet without a layer between them: requantizing
// would go through float.
func.func @forward_eval(%x: tensor<4xf32> {qat.input = "x"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}, %t: tensor<f32> {qat.state = "t"}) -> tensor<4xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  // expected-error @+1 {{--qat-fold-quant: 'qat.quantize' requantizes through float}}
  %yq = qat.fake_quant %xq, %t, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<4xf32>
}

// -----

// Folded before.
// expected-error @+1 {{--qat-fold-quant: 'forward_eval_int8' exists already (the module was folded before)}}
func.func @forward_eval(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func @forward_eval_int8(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// Padding with a value other than 0 is not a move of codes.
func.func @forward_eval(%x: tensor<4xf32> {qat.input = "x"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}) -> tensor<6xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  %one = arith.constant 1.0 : f32
  // expected-error @+1 {{--qat-fold-quant: 'tensor.pad' computes in float on the way from the input to the outputs and has no integer form}}
  %pad = tensor.pad %xq low[1] high[1] {
  ^bb0(%i: index):
    tensor.yield %one : f32
  } : tensor<4xf32> to tensor<6xf32>
  %yq = qat.fake_quant %pad, %s, %z to ui8[0 : 255] : tensor<6xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<6xf32>
}
