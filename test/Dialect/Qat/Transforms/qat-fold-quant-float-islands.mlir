// RUN: qat-opt --qat-fold-quant=allow-float --split-input-file --verify-diagnostics %s | FileCheck %s

// allow-float: a sigmoid between two quantized values stays in float; its
// input is the dequantized codes and the next fake quantization quantizes
// its result. One remark, at the first float op, counts the float ops.
// CHECK-LABEL: func @forward_eval_int8
// CHECK:         %[[XQ:.*]] = qat.quantize %{{.*}} to ui8[0 : 255]
// CHECK:         %[[XD:.*]] = qat.dequantize %[[XQ]]
// CHECK:         %[[SIG:.*]] = tosa.sigmoid %[[XD]]
// CHECK:         %[[YQ:.*]] = qat.quantize %[[SIG]], %{{.*}} to ui8[0 : 255]
// CHECK:         %[[YD:.*]] = qat.dequantize %[[YQ]]
// CHECK:         %[[TANH:.*]] = tosa.tanh %[[YD]]
// CHECK:         %[[UQ:.*]] = qat.quantize %[[TANH]]
// CHECK:         %[[UD:.*]] = qat.dequantize %[[UQ]]
// CHECK:         return %[[UD]]
func.func @forward_eval(%x: tensor<4xf32> {qat.input = "x"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}, %t: tensor<f32> {qat.state = "t"}) -> tensor<4xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  // expected-remark @+1 {{--qat-fold-quant: 2 ops compute in float between quantized values (1 tosa.sigmoid, 1 tosa.tanh); the first is here}}
  %y = tosa.sigmoid %xq : (tensor<4xf32>) -> tensor<4xf32>
  %yq = qat.fake_quant %y, %t, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  %u = tosa.tanh %yq : (tensor<4xf32>) -> tensor<4xf32>
  %uq = qat.fake_quant %u, %t, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %uq : tensor<4xf32>
}

// -----

// Transposes and slices move codes (ShuffleNet's channel shuffle and
// chunk): quantize(slice(transpose(dequantize(c)))) on one grid is the
// codes moved, with no float op and no remark. Padding with -inf before a
// max pooling pads the codes with the grid's lowest code.
// CHECK-LABEL: func @forward_eval_int8
// CHECK:         %[[XQ:.*]] = qat.quantize %{{.*}} to ui8[0 : 255]
// CHECK:         %[[T:.*]] = tosa.transpose %[[XQ]] {perms = array<i32: 1, 0, 2, 3>} : (tensor<1x4x2x2xi32>) -> tensor<4x1x2x2xi32>
// CHECK:         %[[S:.*]] = tensor.extract_slice %[[T]][1, 0, 0, 0] [2, 1, 2, 2] [2, 1, 1, 1] : tensor<4x1x2x2xi32> to tensor<2x1x2x2xi32>
// CHECK:         %[[LOW:.*]] = arith.constant 0 : i32
// CHECK:         tensor.pad %[[S]] low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK:           tensor.yield %[[LOW]] : i32
// CHECK:         linalg.pooling_nchw_max {{.*}} -> tensor<2x1x2x2xi32>
// CHECK-NOT:     f32>
// CHECK:         qat.dequantize
func.func @forward_eval(%x: tensor<1x4x2x2xf32> {qat.input = "x"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}) -> tensor<2x1x2x2xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<1x4x2x2xf32>, tensor<f32>, tensor<i32>
  %t = tosa.transpose %xq {perms = array<i32: 1, 0, 2, 3>} : (tensor<1x4x2x2xf32>) -> tensor<4x1x2x2xf32>
  %slice = tensor.extract_slice %t[1, 0, 0, 0] [2, 1, 2, 2] [2, 1, 1, 1] : tensor<4x1x2x2xf32> to tensor<2x1x2x2xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %pad = tensor.pad %slice low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %ninf : f32
  } : tensor<2x1x2x2xf32> to tensor<2x1x4x4xf32>
  %window = tensor.empty() : tensor<3x3xf32>
  %init = tensor.empty() : tensor<2x1x2x2xf32>
  %fill = linalg.fill ins(%ninf : f32) outs(%init : tensor<2x1x2x2xf32>) -> tensor<2x1x2x2xf32>
  %pool = linalg.pooling_nchw_max {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>} ins(%pad, %window : tensor<2x1x4x4xf32>, tensor<3x3xf32>) outs(%fill : tensor<2x1x2x2xf32>) -> tensor<2x1x2x2xf32>
  %yq = qat.fake_quant %pool, %s, %z to ui8[0 : 255] : tensor<2x1x2x2xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<2x1x2x2xf32>
}

// -----

// A concatenation of two grids stays in float and is quantized onto the
// output's grid (FloatFunctional.cat).
// CHECK-LABEL: func @forward_eval_int8
// CHECK:         %[[A:.*]] = qat.dequantize
// CHECK:         %[[B:.*]] = qat.dequantize
// CHECK:         %[[C:.*]] = tosa.concat %[[A]], %[[B]] {axis = 0 : i32}
// CHECK:         qat.quantize %[[C]]
func.func @forward_eval(%x: tensor<4xf32> {qat.input = "x"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}, %t: tensor<f32> {qat.state = "t"}, %u: tensor<f32> {qat.state = "u"}) -> tensor<8xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  %yq = qat.fake_quant %x, %t, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  // expected-remark @+1 {{1 op computes in float between quantized values (1 tosa.concat)}}
  %c = tosa.concat %xq, %yq {axis = 0 : i32} : (tensor<4xf32>, tensor<4xf32>) -> tensor<8xf32>
  %cq = qat.fake_quant %c, %u, %z to ui8[0 : 255] : tensor<8xf32>, tensor<f32>, tensor<i32>
  return %cq : tensor<8xf32>
}
